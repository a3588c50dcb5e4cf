// The base of the engine's collections (engine.Policies, engine.Jobs, ...):
// enumerate the objects of one kind, look one up by id or name. Each
// enumeration and lookup reads the engine's current state; the objects are
// snapshots (read them again to see later changes).
//
//   foreach (ReplicationPolicy p in engine.Policies) Console.WriteLine(p.Name);
//   ReplicationPolicy gold = engine.Policies["gold"];      // by id or name
//   bool known = engine.Policies.Contains("silver");

using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Asr.Model;

namespace Asr
{
    /// <summary>
    /// The objects of one kind in an engine, read fresh on every enumeration.
    /// </summary>
    /// <typeparam name="T">The model class of the kind.</typeparam>
    /// <remarks>Thread safety: as <see cref="AsrEngine"/>.</remarks>
    public abstract class AsrCollection<T> : IEnumerable<T>
        where T : AsrModelObject
    {
        internal AsrCollection(AsrEngine engine)
        {
            Engine = engine;
        }

        /// <summary>The engine the collection reads.</summary>
        public AsrEngine Engine { get; }

        /// <summary>
        /// The object with id (or, where the kind has one, name) <paramref name="key"/>.
        /// </summary>
        /// <param name="key">An id or a name.</param>
        /// <returns>A snapshot of the object.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
        /// <exception cref="AsrNotFoundException">No such object (the message names it).</exception>
        public T this[string key] => Bind(Get(key ?? throw new ArgumentNullException(nameof(key))));

        /// <summary>Whether an object with id or name <paramref name="key"/> exists.</summary>
        /// <param name="key">An id or a name.</param>
        /// <returns>True when <see cref="this[string]"/> would find it.</returns>
        public bool Contains(string key)
        {
            try
            {
                _ = Get(key ?? throw new ArgumentNullException(nameof(key)));
                return true;
            }
            catch (AsrNotFoundException)
            {
                return false;
            }
        }

        /// <summary>Reads every object of the kind now.</summary>
        /// <returns>The objects, in the order the engine lists them.</returns>
        public IEnumerator<T> GetEnumerator() =>
            ModelJson.ParseArray(ListJson(), typeof(T).Name + " list")
                .Select(e => Bind(Read(ModelJson.Object(e, typeof(T).Name))))
                .ToList()
                .GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        /// <summary>The JSON array of every object.</summary>
        internal abstract string ListJson();

        /// <summary>One object from its JSON.</summary>
        internal abstract T Read(IDictionary<string, object?> json);

        /// <summary>Ties a snapshot to the engine (for the objects that have operations).</summary>
        internal virtual T Bind(T value) => value;

        /// <summary>The object by key (an id, or where the kind has one, a name).</summary>
        internal abstract T Get(string key);
    }

    /// <summary>A collection over a stored object kind (asr_object_get / asr_object_list).</summary>
    /// <typeparam name="T">The model class of the kind.</typeparam>
    public abstract class AsrStoredCollection<T> : AsrCollection<T>
        where T : AsrModelObject
    {
        private readonly string _kind;
        private readonly Func<T, string>? _name;

        internal AsrStoredCollection(AsrEngine engine, string kind, Func<T, string>? name)
            : base(engine)
        {
            _kind = kind;
            _name = name;
        }

        internal override string ListJson() => Engine.ListObjects(_kind);

        internal override T Get(string key)
        {
            try
            {
                return Read(ModelJson.ParseObject(Engine.GetObject(_kind, key), typeof(T).Name));
            }
            catch (AsrNotFoundException) when (_name != null)
            {
                T? byName = ModelJson.ParseArray(ListJson(), typeof(T).Name + " list")
                    .Select(e => Read(ModelJson.Object(e, typeof(T).Name)))
                    .FirstOrDefault(o => _name(o) == key);
                return byName ?? throw new AsrNotFoundException($"no {_kind} has id or name '{key}'");
            }
        }
    }

    /// <summary>A stored kind read with its generated reader.</summary>
    internal sealed class StoredKind<T> : AsrStoredCollection<T>
        where T : AsrModelObject
    {
        private readonly Func<IDictionary<string, object?>, T> _read;

        internal StoredKind(AsrEngine engine, string kind, Func<IDictionary<string, object?>, T> read, Func<T, string>? name)
            : base(engine, kind, name)
        {
            _read = read;
        }

        internal override T Read(IDictionary<string, object?> json) => _read(json);
    }
}
