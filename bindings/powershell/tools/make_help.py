#!/usr/bin/env python3
"""Writes the module's cmdlet help (MAML, en-US/AsrSiteRecovery.dll-Help.xml)
from the cmdlets' C# sources, so that Get-Help shows for every cmdlet what
its code documents: the class's <summary> as the synopsis, each parameter's
<summary>, type, position, pipeline input, aliases and ValidateSet values,
and as examples the usage lines of the file headers that name the cmdlet.
The build runs it (AsrSiteRecovery.csproj); nothing generated is committed.

    python3 make_help.py SOURCE_DIR OUTPUT_FILE
"""

import html
import re
import sys
from pathlib import Path

CLASS = re.compile(
    r"((?:[ \t]*///[^\n]*\n)*)((?:[ \t]*\[[^\n]*\]\n)*)[ \t]*public (?:sealed |abstract )*class (\w+)(?:<\w+>)?"
    r"\s*:\s*(\w+)")
PROPERTY = re.compile(
    r"((?:[ \t]*///[^\n]*\n)+)((?:[ \t]*\[[^\n]*\]\n)+)[ \t]*public ([\w.<>\[\]?]+) (\w+) \{ get; set; \}")
CMDLET = re.compile(r'\[Cmdlet\(Verbs\w+\.(\w+), "(\w+)"')


def summary(doc):
    text = " ".join(l.strip().lstrip("/").strip() for l in doc.splitlines())
    m = re.search(r"<summary>(.*?)</summary>", text)
    s = m.group(1) if m else ""
    s = re.sub(r'<see cref="([^"]+)"\s*/>', lambda m: m.group(1).split(".")[-1], s)
    s = re.sub(r"<[^>]+>", "", s)
    return re.sub(r"\s+", " ", s).strip()


def parse(sources):
    classes = {}
    examples = []
    for path in sorted(sources):
        text = path.read_text()
        for line in text.splitlines():
            m = re.match(r"//\s{2,}(\S.*)$", line)
            if m:
                examples.append(m.group(1).rstrip())
        starts = [m for m in CLASS.finditer(text)]
        for i, m in enumerate(starts):
            body = text[m.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            params = []
            for p in PROPERTY.finditer(body):
                attrs = p.group(2)
                if "[Parameter" not in attrs:
                    continue
                params.append({
                    "name": p.group(4),
                    "type": p.group(3).rstrip("?"),
                    "doc": summary(p.group(1)),
                    "attrs": attrs,
                })
            cmdlet = CMDLET.search(m.group(2))
            classes[m.group(3)] = {
                "base": m.group(4),
                "doc": summary(m.group(1)),
                "cmdlet": (cmdlet.group(1), cmdlet.group(2)) if cmdlet else None,
                "params": params,
            }
    return classes, examples


def all_params(classes, name):
    c = classes.get(name)
    if c is None:
        return []
    own = {p["name"] for p in c["params"]}
    return c["params"] + [p for p in all_params(classes, c["base"]) if p["name"] not in own]


TYPES = {"string": "System.String", "int": "System.Int32", "long": "System.Int64", "ushort": "System.UInt16",
         "SwitchParameter": "System.Management.Automation.SwitchParameter", "AsrRef": "Asr.PowerShell.AsrRef"}


def para(text):
    return "<maml:para>%s</maml:para>" % html.escape(text)


def parameter_xml(p):
    attrs = p["attrs"]
    required = "true" if "Mandatory = true" in attrs else "false"
    pos = re.search(r"Position = (\d+)", attrs)
    pipeline = []
    if "ValueFromPipeline = true" in attrs:
        pipeline.append("ByValue")
    if "ValueFromPipelineByPropertyName = true" in attrs:
        pipeline.append("ByPropertyName")
    aliases = re.findall(r'\[Alias\(([^)]*)\)\]', attrs)
    alias = ", ".join(a.strip().strip('"') for group in aliases for a in group.split(",")) or "none"
    values = re.findall(r'"([^"]+)"', "".join(re.findall(r"\[ValidateSet\(([^)]*)\)\]", attrs)))
    type_name = TYPES.get(p["type"], p["type"])
    out = ['      <command:parameter required="%s" variableLength="%s" globbing="false" pipelineInput="%s" '
           'position="%s" aliases="%s">' % (required, "true" if p["type"].endswith("[]") else "false",
                                             "True (%s)" % ", ".join(pipeline) if pipeline else "False",
                                             pos.group(1) if pos else "named", html.escape(alias)),
           "        <maml:name>%s</maml:name>" % p["name"],
           "        <maml:description>%s</maml:description>" % para(p["doc"])]
    if values:
        out.append("        <command:parameterValueGroup>" + "".join(
            '<command:parameterValue required="false" variableLength="false">%s</command:parameterValue>' % v
            for v in values) + "</command:parameterValueGroup>")
    if p["type"] != "SwitchParameter":
        out.append('        <command:parameterValue required="%s" variableLength="false">%s</command:parameterValue>'
                   % (required, html.escape(p["type"])))
    out.append("        <dev:type><maml:name>%s</maml:name></dev:type>" % html.escape(type_name))
    out.append("      </command:parameter>")
    return out


def command_xml(classes, examples, name):
    c = classes[name]
    verb, noun = c["cmdlet"]
    full = "%s-%s" % (verb, noun)
    params = all_params(classes, name)
    synopsis = c["doc"] or full
    mine = [e for e in examples if re.search(r"(^|[\s|(;])%s(\s|$)" % re.escape(full), e)]
    out = ['  <command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" '
           'xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" '
           'xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">',
           "    <command:details>",
           "      <command:name>%s</command:name>" % full,
           "      <command:verb>%s</command:verb>" % verb,
           "      <command:noun>%s</command:noun>" % noun,
           "      <maml:description>%s</maml:description>" % para(synopsis),
           "    </command:details>",
           "    <maml:description>%s%s</maml:description>" % (
               para(synopsis),
               para("Works on the current engine (Open-AsrEngine) or the one of -Session. "
                    "Errors are ErrorRecords whose id is the broken rule and whose ErrorDetails "
                    "carry the recommended action (about_AsrSiteRecovery).")),
           "    <command:syntax>"]
    # One syntax item per parameter set: a parameter named in sets belongs
    # to those, the others to every set.
    def sets_of(p):
        return re.findall(r'ParameterSetName = "(\w+)"', p["attrs"])
    sets = sorted({s for p in params for s in sets_of(p)}) or [None]
    for s in sets:
        out += ["      <command:syntaxItem>", "        <maml:name>%s</maml:name>" % full]
        for p in params:
            if s is None or not sets_of(p) or s in sets_of(p):
                out += ["  " + l for l in parameter_xml(p)]
        out.append("      </command:syntaxItem>")
    out += ["    </command:syntax>", "    <command:parameters>"]
    for p in params:
        out += parameter_xml(p)
    out.append("    </command:parameters>")
    out.append("    <command:examples>")
    for i, e in enumerate(mine[:4], 1):
        out += ["      <command:example>",
                "        <maml:title>-------------------------- Example %d --------------------------</maml:title>" % i,
                "        <dev:code>%s</dev:code>" % html.escape(e),
                "        <dev:remarks>%s</dev:remarks>" % para(""),
                "      </command:example>"]
    out.append("    </command:examples>")
    out += ["    <command:relatedLinks>",
            "      <maml:navigationLink><maml:linkText>about_AsrSiteRecovery</maml:linkText></maml:navigationLink>",
            "    </command:relatedLinks>",
            "  </command:command>"]
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    classes, examples = parse(Path(sys.argv[1]).glob("*.cs"))
    cmdlets = sorted((n for n, c in classes.items() if c["cmdlet"]), key=lambda n: "-".join(classes[n]["cmdlet"]))
    if not cmdlets:
        sys.exit("make_help.py: no [Cmdlet] classes found in " + sys.argv[1])
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<helpItems schema="maml" xmlns="http://msh">']
    for name in cmdlets:
        out += command_xml(classes, examples, name)
    out.append("</helpItems>")
    target = Path(sys.argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
