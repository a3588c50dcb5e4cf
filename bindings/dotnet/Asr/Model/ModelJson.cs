// The proto3 JSON mapping for the generated model classes (Model/*.g.cs):
// a small parser into plain objects (IDictionary for objects, IList for
// arrays, string, ModelJson.Number, bool, null), typed readers that say
// which field was wrong, and a writer. netstandard2.0 has no JSON parser
// built in, and a dependency would have to load in Windows PowerShell 5.1 too.
//
//   Job job = Job.FromJson(text);          // generated: ModelJson.ParseObject + Job.Read
//   string again = job.ToJson();           // AsrModelObject.ToJson: ModelJsonWriter

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Asr.Model
{
    /// <summary>
    /// The base of every generated model class: an object of asr's model
    /// (asr/model/*.proto) as it crosses the C API in the proto3 JSON mapping.
    /// </summary>
    public abstract class AsrModelObject
    {
        /// <summary>
        /// The object in the proto3 JSON mapping (lowerCamelCase names, enums by
        /// name, 64-bit integers as strings); fields at their default are left out.
        /// </summary>
        /// <returns>Compact JSON text that the generated FromJson reads back.</returns>
        public string ToJson()
        {
            var w = new ModelJsonWriter();
            WriteTo(w);
            return w.ToString();
        }

        /// <summary>The JSON form (<see cref="ToJson"/>).</summary>
        /// <returns>The JSON text.</returns>
        public override string ToString() => ToJson();

        internal abstract void WriteTo(ModelJsonWriter w);
    }

    /// <summary>Parsing and typed reading of proto3 JSON.</summary>
    internal static class ModelJson
    {
        /// <summary>A JSON number, kept as its text so that no precision is lost.</summary>
        internal sealed class Number
        {
            internal Number(string text) => Text = text;

            internal string Text { get; }
        }

        /// <summary>Parses <paramref name="json"/>, which must be one JSON object.</summary>
        /// <exception cref="FormatException">Not JSON, or not an object.</exception>
        internal static IDictionary<string, object?> ParseObject(string json, string what)
        {
            if (json == null)
            {
                throw new ArgumentNullException(nameof(json));
            }

            object? value = Parse(json);
            return value as IDictionary<string, object?> ??
                   throw new FormatException($"{what}: expected a JSON object, got {Describe(value)}");
        }

        /// <summary>Parses <paramref name="json"/>, which must be one JSON array.</summary>
        /// <exception cref="FormatException">Not JSON, or not an array.</exception>
        internal static IList<object?> ParseArray(string json, string what)
        {
            if (json == null)
            {
                throw new ArgumentNullException(nameof(json));
            }

            object? value = Parse(json);
            return value as IList<object?> ??
                   throw new FormatException($"{what}: expected a JSON array, got {Describe(value)}");
        }

        /// <summary>Parses any JSON value.</summary>
        /// <exception cref="FormatException">Not JSON (the message gives the offset).</exception>
        internal static object? Parse(string json)
        {
            var p = new Parser(json);
            object? value = p.Value(0);
            p.SkipSpace();
            if (p.Pos != json.Length)
            {
                throw new FormatException($"JSON: unexpected text at offset {p.Pos}");
            }

            return value;
        }

        internal static IDictionary<string, object?> Object(object? v, string field) =>
            v as IDictionary<string, object?> ?? throw Wrong(field, "an object", v);

        internal static IEnumerable<object?> Array(object? v, string field) =>
            v == null ? System.Array.Empty<object?>() : v as IList<object?> ?? throw Wrong(field, "an array", v);

        internal static string String(object? v, string field) =>
            v == null ? string.Empty : v as string ?? throw Wrong(field, "a string", v);

        internal static bool Bool(object? v, string field) =>
            v == null ? false : v is bool b ? b : throw Wrong(field, "true or false", v);

        internal static int Int32(object? v, string field) => (int)Integer(v, field, int.MinValue, int.MaxValue);

        internal static uint UInt32(object? v, string field) => (uint)Integer(v, field, 0, uint.MaxValue);

        internal static long Int64(object? v, string field) => (long)Integer(v, field, long.MinValue, long.MaxValue);

        internal static ulong UInt64(object? v, string field)
        {
            string? text = NumberText(v, field);
            if (text == null)
            {
                return 0;
            }

            if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u))
            {
                return u;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) &&
                d >= 0 && d <= ulong.MaxValue && Math.Floor(d) == d)
            {
                return (ulong)d;
            }

            throw Wrong(field, "an unsigned 64-bit integer", v);
        }

        internal static double Double(object? v, string field)
        {
            string? text = NumberText(v, field);
            switch (text)
            {
                case null: return 0;
                case "NaN": return double.NaN;
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
                ? d
                : throw Wrong(field, "a number", v);
        }

        internal static float Single(object? v, string field) => (float)Double(v, field);

        internal static byte[] Bytes(object? v, string field)
        {
            string text = String(v, field);
            if (text.Length == 0)
            {
                return System.Array.Empty<byte>();
            }

            // Standard or URL-safe base64, padded or not.
            string std = text.Replace('-', '+').Replace('_', '/');
            std = std.PadRight(std.Length + ((4 - (std.Length % 4)) % 4), '=');
            try
            {
                return Convert.FromBase64String(std);
            }
            catch (FormatException)
            {
                throw Wrong(field, "base64", v);
            }
        }

        /// <summary>An enum by name (or number); a name this binding does not know reads as 0 (UNSPECIFIED).</summary>
        internal static T Enum<T>(object? v, string field)
            where T : struct
        {
            if (v == null)
            {
                return default;
            }

            if (v is string s)
            {
                return System.Enum.IsDefined(typeof(T), s) ? (T)System.Enum.Parse(typeof(T), s) : default;
            }

            if (v is Number n && int.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i))
            {
                return (T)System.Enum.ToObject(typeof(T), i);
            }

            throw Wrong(field, "an enum name", v);
        }

        private static decimal Integer(object? v, string field, decimal min, decimal max)
        {
            string? text = NumberText(v, field);
            if (text == null)
            {
                return 0;
            }

            if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d) &&
                decimal.Truncate(d) == d && d >= min && d <= max)
            {
                return d;
            }

            throw Wrong(field, "an integer from " + min + " to " + max, v);
        }

        // proto3 JSON: numbers may be JSON numbers or strings.
        private static string? NumberText(object? v, string field) =>
            v switch
            {
                null => null,
                Number n => n.Text,
                string s => s,
                _ => throw Wrong(field, "a number", v),
            };

        private static FormatException Wrong(string field, string expected, object? v) =>
            new FormatException($"{field}: expected {expected}, got {Describe(v)}");

        private static string Describe(object? v) =>
            v switch
            {
                null => "null",
                string s => "the string \"" + (s.Length > 40 ? s.Substring(0, 40) + "..." : s) + "\"",
                Number n => "the number " + n.Text,
                bool b => b ? "true" : "false",
                IDictionary<string, object?> _ => "an object",
                _ => "an array",
            };

        private sealed class Parser
        {
            private const int MaxDepth = 128;
            private readonly string _s;

            internal Parser(string s) => _s = s;

            internal int Pos { get; private set; }

            internal void SkipSpace()
            {
                while (Pos < _s.Length && (_s[Pos] == ' ' || _s[Pos] == '\t' || _s[Pos] == '\n' || _s[Pos] == '\r'))
                {
                    Pos++;
                }
            }

            internal object? Value(int depth)
            {
                if (depth > MaxDepth)
                {
                    throw Error("nesting deeper than " + MaxDepth);
                }

                SkipSpace();
                if (Pos >= _s.Length)
                {
                    throw Error("unexpected end");
                }

                char c = _s[Pos];
                switch (c)
                {
                    case '{': return ObjectValue(depth);
                    case '[': return ArrayValue(depth);
                    case '"': return StringValue();
                    case 't': return Literal("true", true);
                    case 'f': return Literal("false", false);
                    case 'n': return Literal("null", null);
                    default:
                        if (c == '-' || (c >= '0' && c <= '9'))
                        {
                            return NumberValue();
                        }

                        throw Error("unexpected character '" + c + "'");
                }
            }

            private IDictionary<string, object?> ObjectValue(int depth)
            {
                var o = new Dictionary<string, object?>(StringComparer.Ordinal);
                Pos++;
                SkipSpace();
                if (Peek() == '}')
                {
                    Pos++;
                    return o;
                }

                while (true)
                {
                    SkipSpace();
                    if (Peek() != '"')
                    {
                        throw Error("expected a member name");
                    }

                    string key = StringValue();
                    SkipSpace();
                    Expect(':');
                    o[key] = Value(depth + 1);
                    SkipSpace();
                    char c = Peek();
                    Pos++;
                    if (c == '}')
                    {
                        return o;
                    }

                    if (c != ',')
                    {
                        Pos--;
                        throw Error("expected ',' or '}'");
                    }
                }
            }

            private IList<object?> ArrayValue(int depth)
            {
                var a = new List<object?>();
                Pos++;
                SkipSpace();
                if (Peek() == ']')
                {
                    Pos++;
                    return a;
                }

                while (true)
                {
                    a.Add(Value(depth + 1));
                    SkipSpace();
                    char c = Peek();
                    Pos++;
                    if (c == ']')
                    {
                        return a;
                    }

                    if (c != ',')
                    {
                        Pos--;
                        throw Error("expected ',' or ']'");
                    }
                }
            }

            private string StringValue()
            {
                Expect('"');
                var sb = new StringBuilder();
                while (true)
                {
                    char c = Peek();
                    Pos++;
                    if (c == '"')
                    {
                        return sb.ToString();
                    }

                    if (c < 0x20)
                    {
                        Pos--;
                        throw Error("control character in a string");
                    }

                    if (c != '\\')
                    {
                        sb.Append(c);
                        continue;
                    }

                    char e = Peek();
                    Pos++;
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (Pos + 4 > _s.Length ||
                                !int.TryParse(_s.Substring(Pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int u))
                            {
                                throw Error("bad \\u escape");
                            }

                            sb.Append((char)u);
                            Pos += 4;
                            break;
                        default:
                            Pos--;
                            throw Error("bad escape '\\" + e + "'");
                    }
                }
            }

            private Number NumberValue()
            {
                int start = Pos;
                while (Pos < _s.Length && "+-0123456789.eE".IndexOf(_s[Pos]) >= 0)
                {
                    Pos++;
                }

                string text = _s.Substring(start, Pos - start);
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    Pos = start;
                    throw Error("bad number '" + text + "'");
                }

                return new Number(text);
            }

            private object? Literal(string word, object? value)
            {
                if (string.CompareOrdinal(_s, Pos, word, 0, word.Length) != 0)
                {
                    throw Error("unexpected text");
                }

                Pos += word.Length;
                return value;
            }

            private char Peek() => Pos < _s.Length ? _s[Pos] : throw Error("unexpected end");

            private void Expect(char c)
            {
                if (Peek() != c)
                {
                    throw Error("expected '" + c + "'");
                }

                Pos++;
            }

            private FormatException Error(string what) => new FormatException($"JSON: {what} at offset {Pos}");
        }
    }

    /// <summary>Writes compact JSON; commas are placed by the writer.</summary>
    internal sealed class ModelJsonWriter
    {
        private readonly StringBuilder _sb = new StringBuilder();
        private readonly Stack<bool> _first = new Stack<bool>();
        private bool _afterName;

        public override string ToString() => _sb.ToString();

        internal void BeginObject()
        {
            Separate();
            _sb.Append('{');
            _first.Push(true);
        }

        internal void EndObject()
        {
            _first.Pop();
            _sb.Append('}');
        }

        internal void BeginArray()
        {
            Separate();
            _sb.Append('[');
            _first.Push(true);
        }

        internal void EndArray()
        {
            _first.Pop();
            _sb.Append(']');
        }

        internal void Name(string name)
        {
            Separate();
            AppendQuoted(name);
            _sb.Append(':');
            _afterName = true;
        }

        internal void String(string? value)
        {
            Separate();
            AppendQuoted(value ?? string.Empty);
        }

        internal void Bool(bool value)
        {
            Separate();
            _sb.Append(value ? "true" : "false");
        }

        internal void Number(int value) => Raw(value.ToString(CultureInfo.InvariantCulture));

        internal void Number(uint value) => Raw(value.ToString(CultureInfo.InvariantCulture));

        internal void Number(double value) =>
            Raw(double.IsNaN(value) ? "\"NaN\""
                : double.IsPositiveInfinity(value) ? "\"Infinity\""
                : double.IsNegativeInfinity(value) ? "\"-Infinity\""
                : value.ToString("R", CultureInfo.InvariantCulture));

        internal void Number(float value) => Number((double)value);

        internal void Quoted(long value) => Raw("\"" + value.ToString(CultureInfo.InvariantCulture) + "\"");

        internal void Quoted(ulong value) => Raw("\"" + value.ToString(CultureInfo.InvariantCulture) + "\"");

        internal void Bytes(byte[]? value) => String(Convert.ToBase64String(value ?? System.Array.Empty<byte>()));

        private void Raw(string text)
        {
            Separate();
            _sb.Append(text);
        }

        private void Separate()
        {
            if (_afterName)
            {
                _afterName = false;
                return;
            }

            if (_first.Count == 0)
            {
                return;
            }

            if (_first.Peek())
            {
                _first.Pop();
                _first.Push(false);
            }
            else
            {
                _sb.Append(',');
            }
        }

        private void AppendQuoted(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                        {
                            _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            _sb.Append(c);
                        }

                        break;
                }
            }

            _sb.Append('"');
        }
    }
}
