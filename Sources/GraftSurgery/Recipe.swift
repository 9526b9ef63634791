import GraftCore

/// An ordered list of surgery operations read from JSON:
/// `{"ops": [{"op": "widen", "layer": "lstm_1", "by": 3, "mode": "zero-fan-out"}, …]}`.
/// Every step's name and arguments are checked when the recipe is parsed; `apply` runs the
/// steps in order on a copy of the graph (`apply(to:)`) or on the graph itself
/// (`apply(editing:)`). See `formats/recipe.md`.
public struct Recipe: Sendable {
    public struct Step: Sendable {
        public var op: String
        public var arguments: JSONValue
        /// `ops[i] (op)`, with the source line when known: how errors name the step.
        public var label: String
        /// Edits the graph; widen and nOutReplace edit tensors the graph holds alone in their own bytes.
        let run: @Sendable (inout Graph) throws -> Void
    }
    public var steps: [Step]

    /// Reads a layer given in a source format's own config JSON (a Keras layer config with
    /// `class_name`, a DL4J layer JSON). The CLI passes one built on GraftKeras/GraftDL4J;
    /// layers with a `"type"` key are always read as IR notation.
    public typealias ForeignLayerParser = @Sendable (JSONValue) throws -> Op

    public static func parse(json text: String, foreignLayers: ForeignLayerParser? = nil) throws -> Recipe {
        try parse(try JSONValue.parse(text), foreignLayers: foreignLayers)
    }

    public static func parse(_ document: JSONValue, foreignLayers: ForeignLayerParser? = nil) throws -> Recipe {
        try parse(document, foreignLayers: foreignLayers, stepLines: [])
    }

    /// `stepLines[i]` is the source line of step i when known (YAML); errors then name it.
    static func parse(_ document: JSONValue, foreignLayers: ForeignLayerParser?, stepLines: [Int]) throws -> Recipe {
        guard let ops = document["ops"]?.arrayValue else {
            throw GraftError(.invalidArgument, "a recipe is an object with an \"ops\" array", field: "ops", found: document.description.prefix(80).description)
        }
        var steps: [Step] = []
        for (i, entry) in ops.enumerated() {
            let line = i < stepLines.count ? ", line \(stepLines[i])" : ""
            guard let name = entry["op"]?.stringValue else {
                throw GraftError(.invalidArgument, "recipe step has no \"op\"", location: "ops[\(i)]" + line, field: "op")
            }
            let label = "ops[\(i)] (\(name))" + line
            guard let operation = SurgeryOperations.table[name] else {
                throw GraftError(.invalidArgument, "unknown recipe operation", location: "ops[\(i)]" + line, field: "op",
                                 expected: SurgeryOperations.table.keys.sorted().joined(separator: ", "), found: name)
            }
            let args = RecipeArguments(json: entry, step: label, foreignLayers: foreignLayers)
            do {
                try args.allowOnly(["op"] + operation.keys)
                let run = try operation.makeStep(args)
                steps.append(Step(op: name, arguments: entry, label: label, run: run))
            } catch let e as GraftError { throw e.at(label) }
        }
        return Recipe(steps: steps)
    }

    /// Runs every step in order on a copy of `graph`; the first failing step's error names the step.
    public func apply(to graph: Graph) throws -> Graph {
        var g = graph
        try apply(editing: &g)
        return g
    }

    /// Runs every step in order on `graph` itself: tensors it holds alone (a graph just
    /// loaded from a file) are edited in their own bytes where an operation can (widen, growing
    /// nOutReplace), not
    /// copied. When a step fails, `graph` holds the steps before it; the error names the step.
    public func apply(editing graph: inout Graph) throws {
        for step in steps {
            do { try step.run(&graph) } catch let e as GraftError {
                var e2 = e
                e2.message = step.label + ": " + e.message
                throw e2
            }
        }
    }
}

/// Typed access to one recipe step's arguments, with errors that name the step and key.
struct RecipeArguments {
    let json: JSONValue
    let step: String
    var foreignLayers: Recipe.ForeignLayerParser? = nil

    func allowOnly(_ keys: [String]) throws {
        for k in json.objectValue?.keys ?? [] where !keys.contains(k) {
            throw GraftError(.invalidArgument, "unknown argument", location: step, field: k, expected: keys.dropFirst().joined(separator: ", "), found: k)
        }
    }
    func missing(_ key: String, _ what: String) -> GraftError {
        GraftError(.invalidArgument, "missing or invalid argument", location: step, field: key, expected: what, found: json[key]?.description ?? "nothing")
    }
    func string(_ key: String) throws -> String {
        guard let s = json[key]?.stringValue, !s.isEmpty else { throw missing(key, "a string") }
        return s
    }
    func optionalString(_ key: String) throws -> String? { json[key] == nil ? nil : try string(key) }
    func int(_ key: String) throws -> Int {
        guard let v = json[key]?.intValue else { throw missing(key, "an integer") }
        return v
    }
    func ints(_ key: String) throws -> [Int] {
        guard let v = json[key]?.intArray else { throw missing(key, "an array of integers") }
        return v
    }
    func strings(_ key: String) throws -> [String] {
        if let s = json[key]?.stringValue { return [s] }
        guard let a = json[key]?.arrayValue else { throw missing(key, "a name or an array of names") }
        return try a.map { guard let s = $0.stringValue else { throw missing(key, "an array of names") }; return s }
    }
    func optionalStrings(_ key: String) throws -> [String] { json[key] == nil ? [] : try strings(key) }
    func seed() throws -> UInt64 {
        guard let v = json["seed"] else { return 42 }
        guard let i = v.intValue, i >= 0 else { throw missing("seed", "a non-negative integer") }
        return UInt64(i)
    }
    func weightInit(_ key: String, default d: WeightInit) throws -> WeightInit {
        guard let v = json[key] else { return d }
        do { return try WeightInit.parse(v) } catch let e as GraftError { throw e.at(step) }
    }
    /// The input width a layer given in a source format's JSON declares (DL4J `nIn`/`nin`,
    /// top level or inside the legacy `{"dense": {…}}` wrapper); nil when absent or 0 (inferred).
    func declaredInputWidth(_ key: String) -> Int? {
        guard let v = json[key], v["type"] == nil else { return nil }
        let candidates = [v] + (v.objectValue?.count == 1 ? Array(v.objectValue!.values) : [])
        for c in candidates {
            if let n = (c["nIn"] ?? c["nin"])?.intValue, n > 0 { return n }
        }
        return nil
    }

    /// Refuses a layer whose declared input width differs from the width it is attached to.
    func checkInputWidth(_ declared: Int?, of layer: String, in graph: Graph, input: NodeOutput?) throws {
        guard let declared, let input, let actual = graph.featureWidth(of: input), actual != declared else { return }
        throw GraftError(.invalidArgument, "the new layer's nIn does not match its input (nIn mismatch)", location: step, field: "nIn",
                         expected: "\(actual) (the width of '\(input.node)')", found: "\(declared) for '\(layer)'")
    }

    func layer(_ key: String) throws -> Op {
        guard let v = json[key] else { throw missing(key, "a layer in IR notation, e.g. {\"type\":\"dense\",\"units\":16}") }
        do {
            if v["type"] == nil, let foreignLayers { return try foreignLayers(v) }
            return try OpNotation.parse(v)
        } catch let e as GraftError { throw e.at(step) }
    }
}

/// The name → operation table recipes use. Each entry lists its argument names and turns
/// parsed arguments into a graph function.
enum SurgeryOperations {
    struct Entry: Sendable {
        var keys: [String]
        /// Parsed arguments → the step, which edits the graph it is given.
        var makeStep: @Sendable (RecipeArguments) throws -> @Sendable (inout Graph) throws -> Void

        /// An operation returning a new graph.
        init(keys: [String], _ make: @escaping @Sendable (RecipeArguments) throws -> @Sendable (Graph) throws -> Graph) {
            self.keys = keys
            makeStep = { a in
                let run = try make(a)
                return { g in g = try run(g) }
            }
        }

        /// An operation editing the graph itself (copy-on-write).
        static func editing(keys: [String],
                            _ make: @escaping @Sendable (RecipeArguments) throws -> @Sendable (inout Graph) throws -> Void) -> Entry {
            var entry = Entry(keys: keys) { _ in { $0 } }
            entry.makeStep = make
            return entry
        }
    }

    static let table: [String: Entry] = [
        "widen": Entry.editing(keys: ["layer", "by", "mode", "noise", "weightInit", "seed"]) { a in
            let layer = try a.string("layer"), by = try a.int("by"), seed = try a.seed()
            let initializer = try a.weightInit("weightInit", default: .glorotUniform)
            let mode: WidenMode
            switch try a.optionalString("mode") ?? "zero-fan-out" {
            case "zero-fan-out", "zeroFanOut": mode = .zeroFanOut
            case "split": mode = .split(noise: a.json["noise"]?.doubleValue ?? 0)
            case let other: throw GraftError(.invalidArgument, "unknown widen mode", location: a.step, field: "mode", expected: "zero-fan-out, split", found: other)
            }
            return { (g: inout Graph) in try g.widenInPlace(layer: layer, by: by, mode: mode, weightInit: initializer, seed: seed) }
        },
        "prune": Entry(keys: ["layer", "units"]) { a in
            let layer = try a.string("layer"), units = try a.ints("units")
            return { try $0.prune(layer: layer, units: units) }
        },
        "nOutReplace": Entry.editing(keys: ["layer", "nOut", "weightInit", "fanOutWeightInit", "seed"]) { a in
            let layer = try a.string("layer"), nOut = try a.int("nOut"), seed = try a.seed()
            let w = try a.weightInit("weightInit", default: .glorotUniform)
            let f = a.json["fanOutWeightInit"] == nil ? nil : try a.weightInit("fanOutWeightInit", default: w)
            return { (g: inout Graph) in try g.nOutReplaceInPlace(layer: layer, nOut: nOut, weightInit: w, fanOutWeightInit: f, seed: seed) }
        },
        "setFeatureExtractor": Entry(keys: ["names"]) { a in
            let names = try a.strings("names")
            return { try $0.setFeatureExtractor(names) }
        },
        "freeze": Entry(keys: ["names", "regex", "upTo"]) { a in
            let names = try a.optionalStrings("names"), regex = try a.optionalString("regex"), upTo = try a.optionalString("upTo")
            guard !names.isEmpty || regex != nil || upTo != nil else { throw a.missing("names", "names, regex or upTo") }
            return { try $0.freeze(names: names, regex: regex, upTo: upTo) }
        },
        "unfreeze": Entry(keys: ["names", "regex", "upTo"]) { a in
            let names = try a.optionalStrings("names"), regex = try a.optionalString("regex"), upTo = try a.optionalString("upTo")
            return { try $0.unfreeze(names: names, regex: regex, upTo: upTo) }
        },
        "removeOutputLayer": Entry(keys: []) { _ in { try $0.removeOutputLayer() } },
        "removeLayersFromOutput": Entry(keys: ["n"]) { a in
            let n = try a.int("n")
            return { try $0.removeLayersFromOutput(n) }
        },
        "removeVertexKeepConnections": Entry(keys: ["name"]) { a in
            let name = try a.string("name")
            return { try $0.removeVertexKeepConnections(name) }
        },
        "removeVertexAndConnections": Entry(keys: ["name"]) { a in
            let name = try a.string("name")
            return { try $0.removeVertexAndConnections(name) }
        },
        "addLayer": Entry(keys: ["name", "layer", "inputs", "weightInit", "seed"]) { a in
            let name = try a.string("name"), op = try a.layer("layer"), inputs = try a.strings("inputs")
            let w = a.json["weightInit"] == nil ? nil : try a.weightInit("weightInit", default: .glorotUniform), seed = try a.seed()
            let nIn = a.declaredInputWidth("layer")
            return { g in
                try a.checkInputWidth(nIn, of: name, in: g, input: inputs.first.map { NodeOutput($0) })
                return try g.addLayer(name: name, op: op, inputs: inputs, weightInit: w, seed: seed)
            }
        },
        "addVertex": Entry(keys: ["name", "vertex", "inputs"]) { a in
            let name = try a.string("name"), op = try a.layer("vertex"), inputs = try a.strings("inputs")
            return { try $0.addVertex(name: name, op: op, inputs: inputs) }
        },
        "setOutputs": Entry(keys: ["names"]) { a in
            let names = try a.strings("names")
            return { try $0.setOutputs(names) }
        },
        "setInputPreProcessor": Entry(keys: ["layer", "preprocessor"]) { a in
            let layer = try a.string("layer")
            let p = try DL4JPreprocessorNotation.parse(a.json["preprocessor"] ?? .null)
            return { try $0.setInputPreProcessor(layer: layer, p) }
        },
        "fineTune": Entry(keys: ["updater", "learningRate", "l1", "l2", "dropout", "seed", "weightInit"]) { a in
            var object = a.json
            if case .object(var o) = object { o.removeValue(forKey: "op"); object = .object(o) }
            let config = try FineTuneConfiguration.parse(object)
            return { $0.fineTune(config) }
        },
        "insertLayer": Entry(keys: ["after", "name", "layer", "init", "seed"]) { a in
            let after = try a.string("after"), name = try a.string("name"), op = try a.layer("layer")
            let w = try a.weightInit("init", default: .identity), seed = try a.seed()
            let nIn = a.declaredInputWidth("layer")
            return { g in
                try a.checkInputWidth(nIn, of: name, in: g, input: NodeOutput(after))
                return try g.insertLayer(after: after, name: name, op: op, init: w, seed: seed)
            }
        },
        "replaceLayer": Entry(keys: ["name", "layer", "weightInit", "seed"]) { a in
            let name = try a.string("name"), op = try a.layer("layer")
            let w = a.json["weightInit"] == nil ? nil : try a.weightInit("weightInit", default: .glorotUniform), seed = try a.seed()
            let nIn = a.declaredInputWidth("layer")
            return { g in
                try a.checkInputWidth(nIn, of: name, in: g, input: g.node(named: name)?.inputs.first)
                return try g.replaceLayer(name, op: op, weightInit: w, seed: seed)
            }
        },
        "rename": Entry(keys: ["from", "to"]) { a in
            let from = try a.string("from"), to = try a.string("to")
            return { try $0.rename(from, to: to) }
        },
    ]
}
