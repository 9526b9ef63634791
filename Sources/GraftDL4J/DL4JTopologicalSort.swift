import GraftCore

/// DL4J's ComputationGraph topological sort (`ComputationGraph.topologicalSortOrder`),
/// reproduced for files that do not store `topologicalOrder`: vertex indices are the
/// network inputs first, then the vertices in JSON order; edges live in Java `HashMap`s /
/// `HashSet`s of `Integer`, and Kahn's algorithm takes vertices from a FIFO queue. The
/// iteration order of those Java hash containers decides ties, so it is emulated here
/// (bucket = index mod table capacity, insertion order within a bucket, capacity doubling
/// from 16 at a 0.75 load factor).
public enum DL4JTopologicalSort {
    public static func order(networkInputs: [String], vertices: [(name: String, inputs: [String])]) throws -> [String] {
        let names = networkInputs + vertices.map(\.name)
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() { index[n] = i }

        var inputEdges = JavaIntHashMap<Set<Int>?>()
        var outputEdges = JavaIntHashMap<JavaIntHashSet>()
        for input in networkInputs { inputEdges.put(index[input]!, nil) }
        for (name, inputs) in vertices {
            let idx = index[name]!
            if inputs.isEmpty { inputEdges.put(idx, nil); continue }
            var inputSet = Set<Int>()
            for s in inputs {
                guard let inputIdx = index[s] else {
                    throw GraftError(.invalidGraph, "vertex input names nothing in the graph", location: name, found: s)
                }
                inputSet.insert(inputIdx)
                var outs = outputEdges.get(inputIdx) ?? JavaIntHashSet()
                outs.add(idx)
                outputEdges.put(inputIdx, outs)
            }
            inputEdges.put(idx, inputSet)
        }
        var queue: [Int] = []
        for (key, value) in inputEdges.entries() where value?.isEmpty ?? true { queue.append(key) }
        var out: [Int] = []
        var remaining: [Int: Set<Int>] = [:]
        for (key, value) in inputEdges.entries() { remaining[key] = value ?? [] }
        while !queue.isEmpty {
            let next = queue.removeFirst()
            out.append(next)
            for v in outputEdges.get(next)?.elements() ?? [] {
                remaining[v]?.remove(next)
                if remaining[v]?.isEmpty == true { queue.append(v) }
            }
        }
        guard out.count == names.count else {
            let stuck = names.enumerated().filter { !out.contains($0.offset) }.map(\.element)
            throw GraftError(.invalidGraph, "the graph has a cycle", expected: "an acyclic graph",
                             found: "vertices in a cycle: \(stuck.prefix(8).joined(separator: ", "))")
        }
        return out.map { names[$0] }
    }
}

/// Iteration order of a Java `HashMap<Integer, V>` (keys < 65536, where hash = key).
struct JavaIntHashMap<V> {
    private var keys: [Int] = []
    private var values: [Int: V] = [:]
    mutating func put(_ key: Int, _ value: V) {
        if values[key] == nil && !keys.contains(key) { keys.append(key) }
        values[key] = value
    }
    func get(_ key: Int) -> V? { values[key] ?? nil }
    func entries() -> [(Int, V)] {
        javaHashOrder(keys).map { ($0, values[$0]!) }
    }
}

/// Iteration order of a Java `HashSet<Integer>`.
struct JavaIntHashSet {
    private var keys: [Int] = []
    mutating func add(_ key: Int) { if !keys.contains(key) { keys.append(key) } }
    func elements() -> [Int] { javaHashOrder(keys) }
}

/// Orders integer keys (given in insertion order) as a Java HashMap iterates them.
func javaHashOrder(_ insertionOrder: [Int]) -> [Int] {
    var capacity = 16
    while Double(insertionOrder.count) > 0.75 * Double(capacity) { capacity *= 2 }
    func bucket(_ k: Int) -> Int { let h = k ^ (k >> 16); return h & (capacity - 1) }
    return insertionOrder.enumerated().sorted { a, b in
        let (ba, bb) = (bucket(a.element), bucket(b.element))
        return ba != bb ? ba < bb : a.offset < b.offset
    }.map(\.element)
}
