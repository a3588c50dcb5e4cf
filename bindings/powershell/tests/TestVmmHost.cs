// The VMM host of the module's Pester tests (compiled there with Add-Type):
// the simulated fabric that `asrctl fabric init --example` made (its two
// servers' inventories, whose VMs' disks are real VHDX files) driven in
// this process: power states, replica and test VMs created as asr asks,
// NICs connected, points read from the live disks (nothing else writes
// them meanwhile), change-tracking sinks kept. What the engine asked is in
// Calls, so a test can check that the cmdlets reached the host.
//
//   $host = [TestVmmHost]::new("$fabric/fabric.json")
//   Set-AsrVmmHost -VmmHost $host

#nullable enable

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using Asr;

public sealed class TestVmmHost : IAsrVmHost
{
    private readonly object _lock = new object();
    private readonly List<(string Name, JsonObject Inventory)> _servers = new List<(string, JsonObject)>();
    private readonly Dictionary<string, JsonObject> _vms = new Dictionary<string, JsonObject>();
    private readonly Dictionary<string, AsrWriteSink> _sinks = new Dictionary<string, AsrWriteSink>();

    public TestVmmHost(string fabricJson)
    {
        JsonNode state = JsonNode.Parse(File.ReadAllText(fabricJson))!;
        foreach (JsonNode? s in state["servers"]!.AsArray())
        {
            string name = s!["name"]!.GetValue<string>();
            var inventory = s["inventory"]!.AsObject();
            foreach (JsonNode? vm in inventory["virtualMachines"]?.AsArray() ?? new JsonArray())
            {
                var v = vm!.DeepClone().AsObject();
                v["serverId"] = name;
                _vms[v["id"]!.GetValue<string>()] = v;
            }

            inventory.Remove("virtualMachines");
            _servers.Add((name, inventory));
        }
    }

    public List<string> Calls { get; } = new List<string>();

    public int PointsHeld { get; private set; }

    public int SinkCount { get { lock (_lock) { return _sinks.Count; } } }

    public string Power(string vmId) { lock (_lock) { return Vm(vmId)["powerState"]!.GetValue<string>(); } }

    private void Call(string what) { lock (_lock) { Calls.Add(what); } }

    private JsonObject Vm(string id) =>
        _vms.TryGetValue(id, out JsonObject? vm) ? vm : throw new AsrNotFoundException($"the host has no VM {id}");

    public string GetInventory(string serverJson)
    {
        string name = JsonNode.Parse(serverJson)!["friendlyName"]!.GetValue<string>();
        Call("GetInventory " + name);
        lock (_lock)
        {
            var (_, inventory) = _servers.FirstOrDefault(s => s.Name == name);
            if (inventory == null)
            {
                throw new AsrUnavailableException($"VMM server {name} did not answer");
            }

            var result = inventory.DeepClone().AsObject();
            result["virtualMachines"] = new JsonArray(_vms.Values.Where(v => v["serverId"]!.GetValue<string>() == name)
                                                                 .Select(v => (JsonNode)v.DeepClone()).ToArray());
            return result.ToJsonString();
        }
    }

    public void ConfigureHost(string hostJson, string policyJson, string role) =>
        Call($"ConfigureHost {JsonNode.Parse(hostJson)!["id"]} {role}");

    public void TestProxy(string serverJson, string password) => Call("TestProxy");

    public string GetVm(string vmId)
    {
        lock (_lock)
        {
            return Vm(vmId).ToJsonString();
        }
    }

    public string CreateReplicaVm(string specJson)
    {
        JsonNode spec = JsonNode.Parse(specJson)!;
        string id = spec["replicaVmId"]!.GetValue<string>();
        string host = spec["hostId"]!.GetValue<string>();
        Call("CreateReplicaVm " + id);
        lock (_lock)
        {
            if (_vms.TryGetValue(id, out JsonObject? existing))
            {
                return existing.ToJsonString();
            }

            foreach (JsonNode? d in spec["disks"]?.AsArray() ?? new JsonArray())
            {
                string dir = Path.GetDirectoryName(d!["path"]!.GetValue<string>())!;
                if (!Directory.Exists(dir))
                {
                    throw new AsrNotFoundException($"the directory {dir} of a replica disk does not exist");
                }
            }

            var (server, inventory) = _servers.FirstOrDefault(s => s.Inventory["hosts"]!.AsArray().Any(h => h!["id"]!.GetValue<string>() == host));
            if (inventory == null)
            {
                throw new AsrNotFoundException($"no host {host}");
            }

            string group = inventory["hosts"]!.AsArray().First(h => h!["id"]!.GetValue<string>() == host)!["hostGroupId"]!.GetValue<string>();
            string cloud = inventory["clouds"]!.AsArray()
                .FirstOrDefault(c => c!["hostGroupIds"]!.AsArray().Any(g => g!.GetValue<string>() == group))?["id"]?.GetValue<string>() ?? string.Empty;
            var vm = new JsonObject
            {
                ["id"] = id,
                ["name"] = spec["name"]?.GetValue<string>() ?? id,
                ["serverId"] = server,
                ["cloudId"] = cloud,
                ["hostId"] = host,
                ["disks"] = spec["disks"]?.DeepClone() ?? new JsonArray(),
                ["networkAdapters"] = spec["networkAdapters"]?.DeepClone() ?? new JsonArray(),
                ["powerState"] = "STOPPED",
            };
            _vms[id] = vm;
            return vm.ToJsonString();
        }
    }

    public void ConnectNic(string vmId, string nicJson)
    {
        JsonNode nic = JsonNode.Parse(nicJson)!;
        Call($"ConnectNic {vmId} {nic["vmNetworkId"]}");
        lock (_lock)
        {
            foreach (JsonNode? a in Vm(vmId)["networkAdapters"]!.AsArray())
            {
                if (a!["id"]!.GetValue<string>() == nic["id"]!.GetValue<string>())
                {
                    a["vmNetworkId"] = nic["vmNetworkId"]?.GetValue<string>() ?? string.Empty;
                    a["subnetName"] = nic["subnetName"]?.GetValue<string>() ?? string.Empty;
                    return;
                }
            }
        }

        throw new AsrNotFoundException($"VM {vmId} has no NIC {nic["id"]}");
    }

    private void SetPower(string vmId, string state, string call)
    {
        Call(call + " " + vmId);
        lock (_lock)
        {
            Vm(vmId)["powerState"] = state;
        }
    }

    public void StartVm(string vmId) => SetPower(vmId, "RUNNING", "StartVm");

    public void ShutdownVm(string vmId) => SetPower(vmId, "STOPPED", "ShutdownVm");

    public void TurnOffVm(string vmId) => SetPower(vmId, "STOPPED", "TurnOffVm");

    public void DeleteVm(string vmId, bool deleteDisks)
    {
        Call("DeleteVm " + vmId);
        lock (_lock)
        {
            JsonObject vm = Vm(vmId);
            if (vm["powerState"]!.GetValue<string>() == "RUNNING")
            {
                throw new AsrFailedPreconditionException($"VM {vmId} runs; stop it first");
            }

            if (deleteDisks)
            {
                foreach (JsonNode? d in vm["disks"]!.AsArray())
                {
                    File.Delete(d!["path"]!.GetValue<string>());
                }
            }

            _vms.Remove(vmId);
        }
    }

    public string GetPowerState(string vmId) => Power(vmId);

    public string CreatePoint(string vmId, string type)
    {
        Call("CreatePoint " + vmId);
        lock (_lock)
        {
            var disks = new JsonArray();
            foreach (JsonNode? d in Vm(vmId)["disks"]!.AsArray())
            {
                disks.Add(new JsonObject { ["diskId"] = d!["id"]!.GetValue<string>(), ["readPath"] = d["path"]!.GetValue<string>() });
            }

            PointsHeld++;
            return new JsonObject
            {
                ["id"] = Calls.Count.ToString(),
                ["vmId"] = vmId,
                ["type"] = type,
                ["timeUs"] = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000).ToString(),
                ["disks"] = disks,
            }.ToJsonString();
        }
    }

    public void ReleasePoint(string pointJson)
    {
        lock (_lock)
        {
            PointsHeld--;
        }
    }

    public string RunScript(string requestJson) =>
        throw new AsrFailedPreconditionException("this test host runs no scripts");

    public void AttachChangeTracking(string vmId, string diskId, AsrWriteSink sink)
    {
        lock (_lock)
        {
            _sinks[vmId + "/" + diskId] = sink;
        }
    }

    public void DetachChangeTracking(string vmId, string diskId)
    {
        lock (_lock)
        {
            _sinks.Remove(vmId + "/" + diskId);
        }
    }
}
