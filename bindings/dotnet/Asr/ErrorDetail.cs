// The structured form of the last native error (asr_last_error_detail): a
// flat JSON object {"code", "codeName", "message", "rule",
// "recommendedAction", "jobId"}. Read with a small reader of flat objects,
// since netstandard2.0 has no JSON parser built in.
//
//   var detail = ErrorDetail.Parse(Native.PtrToStringUtf8(NativeMethods.asr_last_error_detail()));
//   string jobId = detail.JobId;   // "" when the call ran no job

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Asr
{
    /// <summary>The fields of an asr_last_error_detail() document.</summary>
    internal sealed class ErrorDetail
    {
        /// <summary>The broken rule ("" when none applies).</summary>
        public string Rule { get; private set; } = string.Empty;

        /// <summary>What to do about it ("" when nothing specific).</summary>
        public string RecommendedAction { get; private set; } = string.Empty;

        /// <summary>The job the error happened in ("" when none).</summary>
        public string JobId { get; private set; } = string.Empty;

        /// <summary>Reads the detail; an empty detail for null or malformed text.</summary>
        /// <param name="json">The document, as the native library returned it.</param>
        /// <returns>The detail's fields.</returns>
        public static ErrorDetail Parse(string? json)
        {
            var detail = new ErrorDetail();
            if (string.IsNullOrEmpty(json))
            {
                return detail;
            }

            Dictionary<string, string> fields;
            try
            {
                fields = ReadFlatObject(json!);
            }
            catch (FormatException)
            {
                return detail;
            }

            detail.Rule = Field(fields, "rule");
            detail.RecommendedAction = Field(fields, "recommendedAction");
            detail.JobId = Field(fields, "jobId");
            return detail;
        }

        private static string Field(Dictionary<string, string> fields, string name) =>
            fields.TryGetValue(name, out string? value) ? value : string.Empty;

        // Reads {"key": value, ...} where each value is a string, number,
        // true, false or null (no nesting); numbers and literals are kept as text.
        private static Dictionary<string, string> ReadFlatObject(string json)
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            int i = 0;
            Expect(json, ref i, '{');
            SkipSpace(json, ref i);
            if (Peek(json, i) == '}')
            {
                return fields;
            }

            while (true)
            {
                string key = ReadString(json, ref i);
                Expect(json, ref i, ':');
                SkipSpace(json, ref i);
                string value;
                if (Peek(json, i) == '"')
                {
                    value = ReadString(json, ref i);
                }
                else
                {
                    int start = i;
                    while (i < json.Length && json[i] != ',' && json[i] != '}' && !char.IsWhiteSpace(json[i]))
                    {
                        i++;
                    }

                    value = json.Substring(start, i - start);
                }

                fields[key] = value;
                SkipSpace(json, ref i);
                char c = Peek(json, i);
                i++;
                if (c == '}')
                {
                    return fields;
                }

                if (c != ',')
                {
                    throw new FormatException("expected ',' or '}'");
                }
            }
        }

        private static char Peek(string s, int i) =>
            i < s.Length ? s[i] : throw new FormatException("unexpected end of JSON");

        private static void SkipSpace(string s, ref int i)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }
        }

        private static void Expect(string s, ref int i, char c)
        {
            SkipSpace(s, ref i);
            if (Peek(s, i) != c)
            {
                throw new FormatException("expected '" + c + "'");
            }

            i++;
        }

        private static string ReadString(string s, ref int i)
        {
            Expect(s, ref i, '"');
            var sb = new StringBuilder();
            while (true)
            {
                char c = Peek(s, i++);
                if (c == '"')
                {
                    return sb.ToString();
                }

                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }

                char e = Peek(s, i++);
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u':
                        if (i + 4 > s.Length)
                        {
                            throw new FormatException("short \\u escape");
                        }

                        sb.Append((char)int.Parse(s.Substring(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        i += 4;
                        break;
                    default: sb.Append(e); break;
                }
            }
        }
    }
}
