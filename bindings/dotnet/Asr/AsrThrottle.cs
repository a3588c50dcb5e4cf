// Bandwidth throttles from .NET: a weekly schedule of replication limits for
// the whole site (every stream shares it) or one VM (its cycles obey both),
// stored with the site and applied by the site service within a second.
// Throttles cross as Throttle JSON (asr/model/throttle.proto).
//
//   AsrThrottle.SetSite(engine, new[] { "Mon-Fri 08:00-18:00 50Mbit/s" }, "unlimited", "+01:00");
//   AsrThrottle.SetVm(engine, "VM1", new[] { "daily 00:00-24:00 20Mbit/s" });
//   string site = AsrThrottle.Get(engine);          // {"id":"site","schedule":{...},...}
//   AsrThrottle.Clear(engine, "VM1");
//
// An item's throttle in force and expected RPO are in AsrProtection.GetItem's
// "throttleInForce" and "expectedRpoSeconds".

using System;
using System.Collections.Generic;
using System.Linq;

namespace Asr
{
    /// <summary>Replication bandwidth limits with a weekly schedule, for the site or a VM.</summary>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public static class AsrThrottle
    {
        /// <summary>
        /// Sets the site's throttle: <paramref name="limits"/> are rules "DAYS HH:MM-HH:MM RATE"
        /// (e.g. "Mon-Fri 08:00-18:00 50Mbit/s"), <paramref name="defaultLimit"/> applies
        /// outside them ("unlimited" or a rate), <paramref name="utcOffset"/> is the site's
        /// local time ("+01:00"; null: UTC). Returns the stored Throttle JSON.
        /// </summary>
        /// <exception cref="AsrInvalidArgumentException">A bad rule, rate, day, time or offset, or overlapping windows (the message says which).</exception>
        public static string SetSite(AsrEngine engine, IEnumerable<string>? limits, string? defaultLimit = null, string? utcOffset = null) =>
            Set(engine, string.Empty, limits, defaultLimit, utcOffset);

        /// <summary>Sets a VM's throttle (the VM by id or name), as <see cref="SetSite"/>.</summary>
        /// <exception cref="AsrNotFoundException">No such VM.</exception>
        public static string SetVm(AsrEngine engine, string vm, IEnumerable<string>? limits, string? defaultLimit = null, string? utcOffset = null) =>
            Set(engine, vm ?? throw new ArgumentNullException(nameof(vm)), limits, defaultLimit, utcOffset);

        /// <summary>
        /// Sets a throttle from a ThrottleSetRequest JSON: {"vm", "limits", "defaultLimit",
        /// "utcOffset"} or {"vm", "schedule": {"defaultBitsPerSecond", "windows": [...]},
        /// "utcOffset"}. Returns the stored Throttle JSON.
        /// </summary>
        public static string SetJson(AsrEngine engine, string requestJson)
        {
            int code = NativeMethods.asr_throttle_set(
                out BufferHandle b, AsrVault.Eng(engine), Native.Utf8(requestJson ?? throw new ArgumentNullException(nameof(requestJson)), nameof(requestJson)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>The throttle of the site (<paramref name="vm"/> null) or of a VM, as Throttle JSON.</summary>
        /// <exception cref="AsrNotFoundException">None is set (replication is unlimited), or no such VM.</exception>
        public static string Get(AsrEngine engine, string? vm = null)
        {
            int code = NativeMethods.asr_throttle_get(
                out BufferHandle b, AsrVault.Eng(engine), vm == null ? null : Native.Utf8(vm, nameof(vm)), 0);
            return Native.CheckAndTakeString(code, b);
        }

        /// <summary>Every throttle as a JSON array, the site's first ("[]" when none).</summary>
        public static string List(AsrEngine engine) =>
            Native.CheckAndTakeString(NativeMethods.asr_throttle_list(out BufferHandle b, AsrVault.Eng(engine), 0), b);

        /// <summary>Removes the throttle of the site (<paramref name="vm"/> null) or of a VM.</summary>
        /// <exception cref="AsrNotFoundException">None is set, or no such VM.</exception>
        public static void Clear(AsrEngine engine, string? vm = null) =>
            Native.Check(NativeMethods.asr_throttle_clear(
                AsrVault.Eng(engine), vm == null ? null : Native.Utf8(vm, nameof(vm)), 0));

        private static string Set(AsrEngine engine, string vm, IEnumerable<string>? limits, string? defaultLimit, string? utcOffset)
        {
            string json = "{\"vm\":" + MappingJson.Quote(vm) +
                          ",\"limits\":[" + string.Join(",", (limits ?? Enumerable.Empty<string>()).Select(MappingJson.Quote)) + "]" +
                          (defaultLimit == null ? string.Empty : ",\"defaultLimit\":" + MappingJson.Quote(defaultLimit)) +
                          (utcOffset == null ? string.Empty : ",\"utcOffset\":" + MappingJson.Quote(utcOffset)) + "}";
            return SetJson(engine, json);
        }
    }
}
