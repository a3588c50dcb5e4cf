// Uses the Asr package from a feed: opens an engine in a new state directory,
// creates the vault, a registration key, a replication policy, and reads them
// back through the engine's collections. Prints "drill: ok" and exits 0, or
// prints the error (with its rule and recommended action) and exits 1.
//
//   dotnet run --project samples/Drill -- [STATE_DIR]

using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using Asr;
using Asr.Model;

internal static class Program
{
    private static int Main(string[] args)
    {
        string root = Path.Combine(Path.GetTempPath(), "asr-drill-" + Guid.NewGuid().ToString("N"));
        string stateDir = args.Length > 0 ? args[0] : Path.Combine(root, "state");
        Directory.CreateDirectory(root);
        try
        {
            string keyFile = Path.Combine(root, "kek");
            File.WriteAllText(keyFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            Console.WriteLine($"asr {AsrLibrary.VersionString} (binding {AsrLibrary.BindingVersionNumber})");
            using AsrEngine engine = AsrEngine.Open(stateDir, new AsrEngineOptions { KeyFile = keyFile });
            engine.Initialize();
            Job vault = engine.Vault.Create("contoso-dr", "westeurope");
            Console.WriteLine($"{vault.ScenarioName}: {vault.State}");
            AsrRegistrationKeyFile key = engine.Vault.GenerateRegistrationKey();
            Console.WriteLine($"registration key {key.Key.KeyId} of vault {key.Key.VaultName}");
            ReplicationPolicy gold = engine.Policies.Create(new ReplicationPolicy
            {
                Name = "gold",
                ReplicationProvider = ReplicationProvider.HyperVReplica2012R2,
                ReplicationFrequencyInSeconds = 30,
            });
            Console.WriteLine($"policy {gold.Name} ({gold.Id}): every {engine.Policies["gold"].ReplicationFrequencyInSeconds} s");
            Console.WriteLine($"sites: {string.Join(", ", engine.Inventory.Sites.Select(s => s.Id))}; jobs: {engine.Jobs.Count()}");
            try
            {
                engine.ProtectionContainerMappings.Create("GoldCloud1", "GoldCloud2");
                Console.Error.WriteLine("drill: pairing unknown clouds was not refused");
                return 1;
            }
            catch (AsrException e)
            {
                Console.WriteLine($"refused as expected: {e.StatusCode}: {e.Message}");
            }

            Console.WriteLine("drill: ok");
            return 0;
        }
        catch (AsrException e)
        {
            Console.Error.WriteLine($"drill: {e.Message} [rule {e.Rule}; {e.RecommendedAction}]");
            return 1;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
