#!/usr/bin/env python3
"""Generates the .NET binding's typed model (bindings/dotnet/Asr/Model/*.g.cs)
from the .proto files whose messages cross the C API.

Each proto message becomes a sealed partial class in namespace Asr.Model with
one property per field (PascalCase of the field name), read from and written
to the proto3 JSON mapping the C API speaks (lowerCamelCase names, enums as
their names, 64-bit integers as strings, bytes as base64). Each proto enum
becomes a C# enum with the proto's value names and numbers.

  python3 bindings/dotnet/tools/generate_model.py          # rewrite the files
  python3 bindings/dotnet/tools/generate_model.py --check  # exit 1 if stale

Run it after changing a .proto below; test.sh runs --check.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "Asr", "Model"))

# Every proto file with objects that cross asr.h. asr/model/cli.proto holds
# only asrctl's own outputs and is left out.
PROTOS = [
    "asr/model/errors.proto",
    "asr/model/fabric.proto",
    "asr/model/groups.proto",
    "asr/model/host.proto",
    "asr/model/job.proto",
    "asr/model/mapping.proto",
    "asr/model/protection.proto",
    "asr/model/protection_api.proto",
    "asr/model/recovery_plan.proto",
    "asr/model/replication.proto",
    "asr/model/throttle.proto",
    "asr/failover/operations.proto",
]

# Messages that never leave the library (key material).
SKIP_MESSAGES = {"VaultSecrets"}

SCALARS = {
    # proto type: (C# type, default expression, reader, is-default test, writer)
    "string": ("string", "string.Empty", "ModelJson.String", "string.IsNullOrEmpty({v})", "w.String({v})"),
    "bool": ("bool", None, "ModelJson.Bool", "!{v}", "w.Bool({v})"),
    "int32": ("int", None, "ModelJson.Int32", "{v} == 0", "w.Number({v})"),
    "sint32": ("int", None, "ModelJson.Int32", "{v} == 0", "w.Number({v})"),
    "sfixed32": ("int", None, "ModelJson.Int32", "{v} == 0", "w.Number({v})"),
    "uint32": ("uint", None, "ModelJson.UInt32", "{v} == 0", "w.Number({v})"),
    "fixed32": ("uint", None, "ModelJson.UInt32", "{v} == 0", "w.Number({v})"),
    "int64": ("long", None, "ModelJson.Int64", "{v} == 0", "w.Quoted({v})"),
    "sint64": ("long", None, "ModelJson.Int64", "{v} == 0", "w.Quoted({v})"),
    "sfixed64": ("long", None, "ModelJson.Int64", "{v} == 0", "w.Quoted({v})"),
    "uint64": ("ulong", None, "ModelJson.UInt64", "{v} == 0", "w.Quoted({v})"),
    "fixed64": ("ulong", None, "ModelJson.UInt64", "{v} == 0", "w.Quoted({v})"),
    "double": ("double", None, "ModelJson.Double", "{v} == 0", "w.Number({v})"),
    "float": ("float", None, "ModelJson.Single", "{v} == 0", "w.Number({v})"),
    "bytes": ("byte[]", "System.Array.Empty<byte>()", "ModelJson.Bytes", "{v} == null || {v}.Length == 0", "w.Bytes({v})"),
}


class Field:
    def __init__(self, name, type_, number, repeated, doc, optional=False):
        self.optional = optional
        self.name = name
        self.type = type_
        self.number = number
        self.repeated = repeated
        self.doc = doc


class Message:
    def __init__(self, name, doc, proto):
        self.name = name
        self.doc = doc
        self.proto = proto
        self.fields = []


class Enum:
    def __init__(self, name, doc, proto):
        self.name = name
        self.doc = doc
        self.proto = proto
        self.values = []  # (name, number, doc)


def scope(stack):
    """The prefix of a nested type's flattened name: ReplicaOverlayStep.Kind is ReplicaOverlayStepKind."""
    return "".join(x.name for x in stack if not isinstance(x, str))


def resolve(msg, type_, known):
    """The flattened name of `type_` as seen from inside `msg` (innermost scope first)."""
    s = getattr(msg, "scope", msg.name)
    while True:
        if s + type_ in known:
            return s + type_
        if not s:
            return type_
        # Drop the innermost scope: scopes are concatenated names, so walk the known prefixes.
        parents = [m for m in known if s.startswith(m) and m != s]
        s = max(parents, key=len) if parents else ""


def parse(path):
    rel = os.path.relpath(path, ROOT)
    messages, enums = [], []
    comment = []
    stack = []  # entries: Message, Enum, or "oneof"
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for raw in lines:
        line = raw.strip()
        if not line:
            comment = []
            continue
        if line.startswith("//"):
            comment.append(line[2:].strip())
            continue
        trailing = ""
        if "//" in line:
            line, trailing = line.split("//", 1)
            line, trailing = line.strip(), trailing.strip()
        doc = " ".join(comment + ([trailing] if trailing else [])).strip()
        comment = []
        m = re.match(r"^message\s+(\w+)\s*\{$", line)
        if m:
            msg = Message(scope(stack) + m.group(1), doc, rel)
            messages.append(msg)
            stack.append(msg)
            continue
        m = re.match(r"^enum\s+(\w+)\s*\{$", line)
        if m:
            en = Enum(scope(stack) + m.group(1), doc, rel)
            enums.append(en)
            stack.append(en)
            continue
        m = re.match(r"^oneof\s+(\w+)\s*\{$", line)
        if m:
            stack.append("oneof")
            continue
        if line == "}":
            stack.pop()
            continue
        if not stack:
            continue  # syntax, package, import, option
        top = stack[-1]
        if re.match(r"^(reserved|option)\b", line):
            continue
        if isinstance(top, Enum):
            m = re.match(r"^(\w+)\s*=\s*(-?\d+)\s*;$", line)
            if not m:
                raise SystemExit(f"{rel}: cannot read enum line: {raw}")
            top.values.append((m.group(1), int(m.group(2)), doc))
            continue
        msg = top if isinstance(top, Message) else stack[-2]
        msg.scope = scope(stack)
        m = re.match(r"^(repeated\s+|optional\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(\[.*\])?\s*;$", line)
        if not m:
            raise SystemExit(f"{rel}: cannot read field line: {raw}")
        if m.group(2).startswith("map<"):
            raise SystemExit(f"{rel}: map fields are not supported")
        label = (m.group(1) or "").strip()
        msg.fields.append(Field(m.group(3), m.group(2).split(".")[-1], int(m.group(4)), label == "repeated", doc, label == "optional"))
    return messages, enums


def pascal(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)


def camel(name):
    p = pascal(name)
    return p[:1].lower() + p[1:]


def xml(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def doc_lines(indent, text):
    return [f"{indent}/// <summary>{xml(text)}</summary>"]


def gen_enum(en):
    out = []
    out += doc_lines("    ", en.doc or f"The proto enum {en.name} ({en.proto}).")
    out.append(f"    public enum {en.name}")
    out.append("    {")
    for i, (name, number, doc) in enumerate(en.values):
        if i:
            out.append("")
        out += doc_lines("        ", doc or f"{name} ({number}).")
        out.append(f"        {name} = {number},")
    out.append("    }")
    return out


def gen_message(msg, enum_names, message_names):
    out = []
    out += doc_lines("    ", msg.doc or f"The proto message {msg.name} ({msg.proto}).")
    out.append(f"    public sealed partial class {msg.name} : AsrModelObject")
    out.append("    {")
    props = []
    for f in msg.fields:
        f.type = resolve(msg, f.type, enum_names | message_names)
        prop = pascal(f.name)
        if prop == msg.name:
            prop += "Value"
        props.append(prop)
        doc = f.doc or f"Field {f.name} ({f.number})."
        if f.type in SCALARS:
            cs, default = SCALARS[f.type][0], SCALARS[f.type][1]
        elif f.type in enum_names:
            cs, default = f.type, None
        elif f.type in message_names:
            cs, default = f.type + "?", None
        else:
            raise SystemExit(f"{msg.proto}: {msg.name}.{f.name}: unknown type {f.type}")
        out += doc_lines("        ", doc)
        if f.repeated:
            elem = cs.rstrip("?")
            out.append(f"        public IList<{elem}> {prop} {{ get; }} = new List<{elem}>();")
        elif f.optional:
            # proto3 `optional`: null when absent, so that an explicit false/0/"" is sent.
            out.append(f"        public {cs.rstrip('?')}? {prop} {{ get; set; }}")
        elif default:
            out.append(f"        public {cs} {prop} {{ get; set; }} = {default};")
        else:
            out.append(f"        public {cs} {prop} {{ get; set; }}")
        out.append("")

    # Reader.
    out.append(f"        /// <summary>Reads a {msg.name} from its proto3 JSON form.</summary>")
    out.append("        /// <param name=\"json\">A JSON object.</param>")
    out.append(f"        /// <returns>The {msg.name}; fields the JSON lacks keep their defaults, unknown fields are ignored.</returns>")
    out.append("        /// <exception cref=\"System.FormatException\">The text is not JSON, or a field has the wrong type.</exception>")
    out.append(f"        public static {msg.name} FromJson(string json) => Read(ModelJson.ParseObject(json, nameof({msg.name})));")
    out.append("")
    out.append(f"        internal static {msg.name} Read(IDictionary<string, object?> json)")
    out.append("        {")
    out.append(f"            var m = new {msg.name}();")
    if msg.fields:
        out.append("            foreach (KeyValuePair<string, object?> kv in json)")
        out.append("            {")
        out.append("                switch (kv.Key)")
        out.append("                {")
        for f, prop in zip(msg.fields, props):
            names = [camel(f.name)]
            if f.name != names[0]:
                names.append(f.name)
            labels = " ".join(f"case \"{n}\":" for n in names)
            where = f"\"{msg.name}.{camel(f.name)}\""
            if f.type in SCALARS:
                one = f"{SCALARS[f.type][2]}({{x}}, {where})"
            elif f.type in enum_names:
                one = f"ModelJson.Enum<{f.type}>({{x}}, {where})"
            else:
                one = f"{f.type}.Read(ModelJson.Object({{x}}, {where}))"
            if f.repeated:
                out.append(f"                    {labels}")
                out.append(f"                        foreach (object? e in ModelJson.Array(kv.Value, {where}))")
                out.append("                        {")
                out.append(f"                            m.{prop}.Add({one.format(x='e')});")
                out.append("                        }")
                out.append("")
                out.append("                        break;")
            elif f.type in message_names:
                out.append(f"                    {labels}")
                out.append(f"                        m.{prop} = kv.Value == null ? null : {one.format(x='kv.Value')};")
                out.append("                        break;")
            else:
                out.append(f"                    {labels}")
                out.append(f"                        m.{prop} = {one.format(x='kv.Value')};")
                out.append("                        break;")
        out.append("                }")
        out.append("            }")
        out.append("")
    out.append("            return m;")
    out.append("        }")
    out.append("")

    # Writer.
    out.append("        internal override void WriteTo(ModelJsonWriter w)")
    out.append("        {")
    out.append("            w.BeginObject();")
    for f, prop in zip(msg.fields, props):
        name = camel(f.name)
        if f.type in SCALARS:
            test = SCALARS[f.type][3]
            write = SCALARS[f.type][4]
        elif f.type in enum_names:
            test = "{v} == 0"
            write = "w.String({v}.ToString())"
        else:
            test = "{v} == null"
            write = "{v}.WriteTo(w)"
        if f.repeated:
            out.append(f"            if ({prop}.Count != 0)")
            out.append("            {")
            out.append(f"                w.Name(\"{name}\");")
            out.append("                w.BeginArray();")
            out.append(f"                foreach ({('byte[]' if f.type == 'bytes' else 'var')} e in {prop})")
            out.append("                {")
            out.append(f"                    {write.format(v='e')};")
            out.append("                }")
            out.append("")
            out.append("                w.EndArray();")
            out.append("            }")
        elif f.optional:
            out.append(f"            if ({prop} != null)")
            out.append("            {")
            out.append(f"                w.Name(\"{name}\");")
            v = prop if f.type in ("string", "bytes") else prop + ".Value"
            out.append(f"                {write.format(v=v)};")
            out.append("            }")
        else:
            out.append(f"            if (!({test.format(v=prop)}))")
            out.append("            {")
            out.append(f"                w.Name(\"{name}\");")
            v = prop + ("!" if f.type in message_names else "")
            out.append(f"                {write.format(v=v)};")
            out.append("            }")
        out.append("")
    out.append("            w.EndObject();")
    out.append("        }")
    out.append("    }")
    return out


def generate():
    parsed = []
    for p in PROTOS:
        parsed.append((p, *parse(os.path.join(ROOT, p))))
    enum_names = {e.name for _, _, es in parsed for e in es}
    message_names = {m.name for _, ms, _ in parsed for m in ms if m.name not in SKIP_MESSAGES}
    files = {}
    for proto, messages, enums in parsed:
        out = [
            "// <auto-generated>",
            f"// Generated by bindings/dotnet/tools/generate_model.py from {proto}.",
            "// Do not edit: change the .proto and run the generator.",
            "// </auto-generated>",
            "",
            "#nullable enable",
            "",
            "using System.Collections.Generic;",
            "",
            "namespace Asr.Model",
            "{",
        ]
        items = []
        for en in enums:
            items.append(gen_enum(en))
        for msg in messages:
            if msg.name not in SKIP_MESSAGES:
                items.append(gen_message(msg, enum_names, message_names))
        for i, item in enumerate(items):
            if i:
                out.append("")
            out += item
        out.append("}")
        name = os.path.splitext(os.path.basename(proto))[0]
        files[os.path.join(OUT_DIR, pascal(name) + ".g.cs")] = "\n".join(out) + "\n"
    names = sorted(m.name for _, ms, _ in parsed for m in ms if m.name not in SKIP_MESSAGES)
    out = [
        "// <auto-generated>",
        "// Generated by bindings/dotnet/tools/generate_model.py.",
        "// Do not edit: change the .proto and run the generator.",
        "// </auto-generated>",
        "",
        "#nullable enable",
        "",
        "using System;",
        "using System.Collections.Generic;",
        "",
        "namespace Asr.Model",
        "{",
        "    /// <summary>The generated reader of every model class, by type.</summary>",
        "    internal static class ModelReaders",
        "    {",
        "        private static readonly Dictionary<Type, Func<IDictionary<string, object?>, AsrModelObject>> Readers =",
        "            new Dictionary<Type, Func<IDictionary<string, object?>, AsrModelObject>>",
        "            {",
    ]
    for n in names:
        out.append(f"                [typeof({n})] = {n}.Read,")
    out += [
        "            };",
        "",
        "        /// <summary>Every generated model class.</summary>",
        "        internal static IEnumerable<Type> Types => Readers.Keys;",
        "",
        "        /// <summary>Reads an object of model class <paramref name=\"type\"/> from its JSON.</summary>",
        "        internal static AsrModelObject Read(Type type, IDictionary<string, object?> json) =>",
        "            Readers.TryGetValue(type, out Func<IDictionary<string, object?>, AsrModelObject>? read)",
        "                ? read(json)",
        "                : throw new ArgumentException(type.Name + \" is not a model class\", nameof(type));",
        "    }",
        "}",
    ]
    files[os.path.join(OUT_DIR, "ModelReaders.g.cs")] = "\n".join(out) + "\n"
    return files


def main():
    check = "--check" in sys.argv[1:]
    files = generate()
    existing = {os.path.join(OUT_DIR, f) for f in os.listdir(OUT_DIR) if f.endswith(".g.cs")} if os.path.isdir(OUT_DIR) else set()
    stale = sorted(p for p, text in files.items() if not os.path.exists(p) or open(p, encoding="utf-8").read() != text)
    extra = sorted(existing - set(files))
    if check:
        if stale or extra:
            for p in stale + extra:
                print(f"generate_model.py: {os.path.relpath(p, ROOT)} is out of date; run python3 bindings/dotnet/tools/generate_model.py", file=sys.stderr)
            return 1
        return 0
    os.makedirs(OUT_DIR, exist_ok=True)
    for p in stale:
        with open(p, "w", encoding="utf-8") as f:
            f.write(files[p])
    for p in extra:
        os.remove(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
