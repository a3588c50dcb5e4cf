/* asr_export.h: symbol export macro for the asr C API.
 *
 * ASR_API marks every public function. The library is built with
 * -fvisibility=hidden (and a version script), so only ASR_API symbols, all
 * named asr_*, are exported from libasr.so / asr.dll. */
#ifndef ASR_EXPORT_H_
#define ASR_EXPORT_H_

#if defined(_WIN32)
#if defined(ASR_BUILDING_LIBRARY)
#define ASR_API __declspec(dllexport)
#else
#define ASR_API __declspec(dllimport)
#endif
#else
#define ASR_API __attribute__((visibility("default")))
#endif

#endif /* ASR_EXPORT_H_ */
