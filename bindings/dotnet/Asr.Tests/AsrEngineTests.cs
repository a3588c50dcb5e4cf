using System;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Xunit;

namespace Asr.Tests
{
    public sealed class AsrEngineTests : IDisposable
    {
        private const string GoldCloud = "{\"id\":\"gold1\",\"name\":\"GoldCloud1\",\"serverId\":\"vmm-ny\"}";

        private readonly TempStateDir _dir = new TempStateDir();

        public void Dispose() => _dir.Dispose();

        private AsrEngine OpenInitialized()
        {
            AsrEngine engine = AsrEngine.Open(_dir.Dir);
            engine.Initialize();
            return engine;
        }

        [Fact]
        public void RoundTripsAnObject()
        {
            using AsrEngine engine = OpenInitialized();
            engine.PutObject("cloud", GoldCloud);

            using (JsonDocument doc = JsonDocument.Parse(engine.GetObject("cloud", "gold1")))
            {
                Assert.Equal("gold1", doc.RootElement.GetProperty("id").GetString());
                Assert.Equal("GoldCloud1", doc.RootElement.GetProperty("name").GetString());
                Assert.Equal("vmm-ny", doc.RootElement.GetProperty("serverId").GetString());
            }

            using (JsonDocument list = JsonDocument.Parse(engine.ListObjects("cloud")))
            {
                Assert.Equal(JsonValueKind.Array, list.RootElement.ValueKind);
                Assert.Equal(new[] { "gold1" }, list.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()));
            }

            engine.DeleteObject("cloud", "gold1");
            Assert.Throws<AsrNotFoundException>(() => engine.GetObject("cloud", "gold1"));
            using (JsonDocument empty = JsonDocument.Parse(engine.ListObjects("cloud")))
            {
                Assert.Equal(0, empty.RootElement.GetArrayLength());
            }
        }

        [Fact]
        public void InitializeCreatesTheTwoSitesAndIsIdempotent()
        {
            using AsrEngine engine = OpenInitialized();
            engine.Initialize();
            using JsonDocument sites = JsonDocument.Parse(engine.ListObjects("site"));
            string?[] ids = sites.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()).ToArray();
            Assert.Contains("primary", ids);
            Assert.Contains("recovery", ids);
        }

        [Fact]
        public void ListIsInIdOrder()
        {
            using AsrEngine engine = OpenInitialized();
            foreach (string id in new[] { "c3", "c1", "c2" })
            {
                engine.PutObject("cloud", "{\"id\":\"" + id + "\",\"name\":\"n-" + id + "\"}");
            }

            using JsonDocument list = JsonDocument.Parse(engine.ListObjects("cloud"));
            Assert.Equal(new[] { "c1", "c2", "c3" }, list.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        }

        [Fact]
        public void PutReplacesAnObjectWithTheSameId()
        {
            using AsrEngine engine = OpenInitialized();
            engine.PutObject("cloud", GoldCloud);
            engine.PutObject("cloud", "{\"id\":\"gold1\",\"name\":\"Renamed\"}");
            using JsonDocument doc = JsonDocument.Parse(engine.GetObject("cloud", "gold1"));
            Assert.Equal("Renamed", doc.RootElement.GetProperty("name").GetString());
        }

        [Fact]
        public void NonAsciiTextRoundTripsAsUtf8()
        {
            const string name = "Wolke Größe – 云 ☁ 𝄞";
            using AsrEngine engine = OpenInitialized();
            engine.PutObject("cloud", JsonSerializer.Serialize(new { id = "u1", name }));
            using JsonDocument doc = JsonDocument.Parse(engine.GetObject("cloud", "u1"));
            Assert.Equal(name, doc.RootElement.GetProperty("name").GetString());
        }

        [Fact]
        public void ObjectsPersistAcrossReopen()
        {
            using (AsrEngine engine = OpenInitialized())
            {
                engine.PutObject("cloud", GoldCloud);
            }

            using (AsrEngine reopened = AsrEngine.Open(_dir.Dir))
            {
                using JsonDocument doc = JsonDocument.Parse(reopened.GetObject("cloud", "gold1"));
                Assert.Equal("GoldCloud1", doc.RootElement.GetProperty("name").GetString());
                reopened.DeleteObject("cloud", "gold1");
            }

            using (AsrEngine again = AsrEngine.Open(_dir.Dir))
            {
                Assert.Throws<AsrNotFoundException>(() => again.GetObject("cloud", "gold1"));
            }
        }

        [Fact]
        public void UnknownKindIsInvalidArgumentNamingTheKind()
        {
            using AsrEngine engine = OpenInitialized();
            var e = Assert.Throws<AsrInvalidArgumentException>(() => engine.PutObject("spaceship", "{\"id\":\"s1\"}"));
            Assert.Equal(AsrStatusCode.InvalidArgument, e.StatusCode);
            Assert.Contains("spaceship", e.Message);

            var list = Assert.Throws<AsrInvalidArgumentException>(() => engine.ListObjects("spaceship"));
            Assert.Contains("spaceship", list.Message);
        }

        [Fact]
        public void BadJsonIsInvalidArgument()
        {
            using AsrEngine engine = OpenInitialized();
            var e = Assert.Throws<AsrInvalidArgumentException>(() => engine.PutObject("cloud", "{not json"));
            Assert.False(string.IsNullOrEmpty(e.Message));
        }

        [Fact]
        public void MissingObjectIsNotFoundWithNativeMessage()
        {
            using AsrEngine engine = OpenInitialized();
            var get = Assert.Throws<AsrNotFoundException>(() => engine.GetObject("cloud", "x"));
            Assert.Equal(AsrStatusCode.NotFound, get.StatusCode);
            Assert.Contains("no cloud with id 'x'", get.Message);

            var delete = Assert.Throws<AsrNotFoundException>(() => engine.DeleteObject("cloud", "x"));
            Assert.Contains("no cloud with id 'x'", delete.Message);
        }

        [Fact]
        public void SecondEngineOnTheSameDirectoryIsFailedPreconditionNamingThePid()
        {
            using (AsrEngine first = OpenInitialized())
            {
                var e = Assert.Throws<AsrFailedPreconditionException>(() => AsrEngine.Open(_dir.Dir));
                Assert.Equal(AsrStatusCode.FailedPrecondition, e.StatusCode);
                Assert.Contains("in use by PID " + Environment.ProcessId, e.Message);

                // The first engine is unaffected.
                first.PutObject("cloud", GoldCloud);
            }

            // Once the first is disposed, the directory is free again.
            using AsrEngine second = AsrEngine.Open(_dir.Dir);
            Assert.Contains("GoldCloud1", second.GetObject("cloud", "gold1"));
        }

        [Fact]
        public void MissingDirectoryWithoutCreateIfMissingIsNotFound()
        {
            var options = new AsrEngineOptions { CreateIfMissing = false };
            Assert.Throws<AsrNotFoundException>(() => AsrEngine.Open(_dir.Dir, options));
        }

        [Fact]
        public void ReadOnlyEngineReadsButRefusesWrites()
        {
            using (AsrEngine engine = OpenInitialized())
            {
                engine.PutObject("cloud", GoldCloud);
            }

            using AsrEngine ro = AsrEngine.Open(_dir.Dir, new AsrEngineOptions { ReadOnly = true });
            Assert.Contains("GoldCloud1", ro.GetObject("cloud", "gold1"));
            var e = Assert.Throws<AsrFailedPreconditionException>(() => ro.PutObject("cloud", "{\"id\":\"c2\"}"));
            Assert.False(string.IsNullOrEmpty(e.Message));
            Assert.Throws<AsrFailedPreconditionException>(() => ro.DeleteObject("cloud", "gold1"));
        }

        [Fact]
        public void DisposedEngineThrowsObjectDisposedException()
        {
            AsrEngine engine = OpenInitialized();
            engine.PutObject("cloud", GoldCloud);
            engine.Dispose();
            engine.Dispose(); // idempotent

            Assert.True(engine.IsDisposed);
            Assert.Throws<ObjectDisposedException>(() => engine.Initialize());
            Assert.Throws<ObjectDisposedException>(() => engine.PutObject("cloud", GoldCloud));
            Assert.Throws<ObjectDisposedException>(() => engine.GetObject("cloud", "gold1"));
            Assert.Throws<ObjectDisposedException>(() => engine.ListObjects("cloud"));
            Assert.Throws<ObjectDisposedException>(() => engine.DeleteObject("cloud", "gold1"));
        }

        [Fact]
        public void NullAndNulArgumentsAreRejectedBeforeTheNativeCall()
        {
            Assert.Throws<ArgumentNullException>("stateDir", () => AsrEngine.Open(null!));
            using AsrEngine engine = OpenInitialized();
            Assert.Throws<ArgumentNullException>("kind", () => engine.GetObject(null!, "x"));
            Assert.Throws<ArgumentNullException>("id", () => engine.GetObject("cloud", null!));
            Assert.Throws<ArgumentNullException>("json", () => engine.PutObject("cloud", null!));
            Assert.Throws<ArgumentException>("id", () => engine.GetObject("cloud", "a\0b"));
        }

        [Fact]
        public void EngineIsUsableFromManyThreads()
        {
            using AsrEngine engine = OpenInitialized();
            Parallel.For(0, 64, i =>
            {
                string id = "c" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);
                engine.PutObject("cloud", "{\"id\":\"" + id + "\",\"name\":\"n\"}");
                Assert.Contains(id, engine.GetObject("cloud", id));
                var e = Assert.Throws<AsrNotFoundException>(() => engine.GetObject("cloud", "missing-" + id));
                Assert.Contains("missing-" + id, e.Message); // the message is per thread
            });

            using JsonDocument list = JsonDocument.Parse(engine.ListObjects("cloud"));
            Assert.Equal(64, list.RootElement.GetArrayLength());
        }
    }
}
