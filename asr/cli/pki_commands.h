// asr/cli/pki_commands.h: `asrctl pki ...` — the vault's certificate authority
// and host certificates for certificate authentication (port 8084).
//
//   asrctl pki init --dir ./pki [--primary-name hv-01] [--recovery-name hv-02] [--host-days 365]
//                   [--recovery-san 10.0.0.2]
//   asrctl pki issue --dir ./pki --name hv-03 [--days 365] [--san 10.0.0.3,hv-03.lab]
//   asrctl pki show ./pki/primary.pem [--ca ./pki/ca.pem]
//   asrctl pki revoke --dir ./pki --name hv-03 [--reason keyCompromise]   # -> ./pki/crl.pem
//   asrctl pki crl --dir ./pki [--crl-days 30]                            # re-issue, show
//
// Registered in asrctl_main.cc: RegisterPkiCommands(registry).
#ifndef ASR_CLI_PKI_COMMANDS_H_
#define ASR_CLI_PKI_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterPkiCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_PKI_COMMANDS_H_
