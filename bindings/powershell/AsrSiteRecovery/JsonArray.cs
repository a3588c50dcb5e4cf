// The elements of a JSON array as their own texts, for list results the
// binding returns as JSON (recovery plans): each one is then read with the
// model class's FromJson.
//
//   foreach (string plan in JsonArray.Elements("[{...},{...}]")) RecoveryPlan.FromJson(plan);

using System;
using System.Collections.Generic;

namespace Asr.PowerShell
{
    /// <summary>Splits a JSON array into its elements' texts.</summary>
    public static class JsonArray
    {
        /// <summary>The top-level elements of <paramref name="json"/>, an array.</summary>
        /// <param name="json">A JSON array.</param>
        /// <returns>Each element's text.</returns>
        /// <exception cref="FormatException">Not an array, or cut short.</exception>
        public static IList<string> Elements(string json)
        {
            var result = new List<string>();
            string t = json.Trim();
            if (t.Length < 2 || t[0] != '[' || t[t.Length - 1] != ']')
            {
                throw new FormatException("expected a JSON array");
            }

            int depth = 0, start = 1;
            bool inString = false;
            for (int i = 1; i < t.Length - 1; ++i)
            {
                char c = t[i];
                if (inString)
                {
                    if (c == '\\')
                    {
                        ++i;
                    }
                    else if (c == '"')
                    {
                        inString = false;
                    }

                    continue;
                }

                if (c == '"')
                {
                    inString = true;
                }
                else if (c == '{' || c == '[')
                {
                    ++depth;
                }
                else if (c == '}' || c == ']')
                {
                    --depth;
                }
                else if (c == ',' && depth == 0)
                {
                    result.Add(t.Substring(start, i - start).Trim());
                    start = i + 1;
                }
            }

            if (depth != 0 || inString)
            {
                throw new FormatException("the JSON array is cut short");
            }

            string last = t.Substring(start, t.Length - 1 - start).Trim();
            if (last.Length != 0)
            {
                result.Add(last);
            }

            return result;
        }
    }
}
