import Foundation
import GraftCore
import OrderedCollections

/// Writes a graph as a DL4J ModelSerializer zip in the 1.0.0-beta6 layout:
/// `configuration.json` (`@class` JSON), `coefficients.bin` (the flat [1, N] parameter
/// vector, MIXED_DATA_TYPES encoding), `updaterState.bin` when the parameter layout is the
/// one it was saved with, and every other attachment of the source (e.g. `normalizer.bin`).
///
/// A graph read from DL4J whose nodes are still the reader's writes its original network
/// configuration, upgraded to the `@class` generation (every stored field kept). Any other
/// graph gets a generated configuration (`DL4JConfigGenerator`).
///
/// The flat vector is laid out by reading the written configuration back with a probe
/// vector whose element k holds k: the reader's conversion to canonical layouts is a pure
/// permutation, so each canonical parameter element learns its flat position from the
/// probe, and the writer scatters the graph's values there. The writer's layout is thus the
/// exact inverse of the reader's, family by family, by construction.
public enum DL4JWriter {
    /// Writes `graph` to `path` atomically (temporary file, then rename). `coefficients.bin`
    /// is encoded a few MiB at a time on the zip writer's threads, each part straight into the
    /// buffer it is checked (CRC-32) and written from; weight entries (`.bin`) are
    /// stored, not deflated, unless `compress` (random-looking floats barely compress, and
    /// deflating costs several times the write); `configuration.json` is always deflated.
    @discardableResult
    public static func write(_ graph: Graph, to path: String, compress: Bool = false) throws -> ConversionReport {
        let (prepared, report) = try prepare(graph)
        var entries: [ZipEntry] = []
        for (name, bytes) in prepared.entries {
            if name == "coefficients.bin", let coefficients = prepared.coefficients {
                entries.append(ZipEntry(name, parts: coefficients.zipParts, deflate: compress))
            } else {
                entries.append(ZipEntry(name, bytes, deflate: compress || !name.hasSuffix(".bin")))
            }
        }
        try ZipWriter.write(entries, to: path)
        return report
    }

    /// The zip entries (name, bytes) of `graph` in DL4J's order, and what was converted or dropped.
    public static func encode(_ graph: Graph) throws -> (entries: [(String, [UInt8])], report: ConversionReport) {
        let (prepared, report) = try prepare(graph)
        let entries = try prepared.entries.map { name, bytes -> (String, [UInt8]) in
            guard name == "coefficients.bin", let coefficients = prepared.coefficients else { return (name, bytes) }
            return (name, try coefficients.allBytes())
        }
        return (entries, report)
    }

    /// The entries in order; `coefficients.bin`'s bytes are left empty when `coefficients` produces them.
    struct Prepared {
        var entries: [(String, [UInt8])]
        var coefficients: DL4JCoefficientsStream?
    }

    static func prepare(_ graph: Graph) throws -> (Prepared, ConversionReport) {
        var report = ConversionReport()
        let configuration: JSONValue
        let keepsLayout: Bool
        var prepared = graph
        var rowPermutations: [String: DL4JConfigGenerator.RowPermutation]? = [:]
        if let original = DL4JConfigUpgrade.originalConfiguration(of: graph) {
            configuration = try DL4JConfigUpgrade.upgrade(original, report: &report)
            keepsLayout = true
        } else {
            (configuration, prepared) = try DL4JConfigGenerator.generate(graph, report: &report,
                                                                         deferredRowPermutations: &rowPermutations)
            keepsLayout = false
        }
        let coefficients = try coefficientsStream(of: prepared, configuration: configuration,
                                                  rowPermutations: rowPermutations ?? [:])
        var entries: [(String, [UInt8])] = [("configuration.json", Array(configuration.serialized(pretty: true).utf8))]
        entries.append(coefficients == nil ? ("noParams.marker", []) : ("coefficients.bin", []))
        for name in graph.source.attachments.keys.sorted() where name != "noParams.marker" {
            guard let bytes = graph.source.attachments[name] else { continue }
            if name == "updaterState.bin" && !(keepsLayout && coefficients != nil) {
                report.add(.dropped, node: nil, "updaterState.bin: the parameter layout changed, so the saved updater state no longer lines up")
                continue
            }
            entries.append((name, bytes))
        }
        return (Prepared(entries: entries, coefficients: coefficients), report)
    }

    /// `coefficients.bin` for `configuration` filled from `graph`'s nodes (nil when the
    /// configuration has no parameters).
    ///
    /// The reader is run over the written configuration without values (`DL4JFlatParameters`
    /// in plan mode): each canonical parameter tensor it returns untouched records which flat
    /// range it came from and how that range was laid out, and the writer encodes the
    /// graph's tensor back through the inverse of that layout. When a layer's reading does
    /// more than such a layout change (e.g. the LSTM gate reorder), the flat vector is built
    /// with a probe instead (`flatParameters`).
    ///
    /// `rowPermutations` lists dense kernels whose rows are in (h, w, c) order while DL4J reads
    /// them in (c, h, w) order; the permutation is folded into the kernel's gather.
    static func coefficientsStream(of graph: Graph, configuration: JSONValue,
                                   rowPermutations: [String: DL4JConfigGenerator.RowPermutation] = [:]) throws -> DL4JCoefficientsStream? {
        let config = try DL4JNetworkConfig.parse(configuration, file: nil)
        let total = graph.parameterCount
        guard total > 0 else { return nil }
        let dtype = graph.nodes.lazy.flatMap(\.parameters.values).first?.dtype ?? .float32
        if let pieces = try? plannedPieces(of: graph, config: config, total: total, dtype: dtype, rowPermutations: rowPermutations) {
            return try DL4JCoefficientsStream(count: total, dtype: dtype, pieces: pieces)
        }
        var graph = graph
        for (name, p) in rowPermutations {
            guard let i = graph.index(of: name), let kernel = graph.nodes[i].parameters["kernel"] else { continue }
            graph.nodes[i].parameters["kernel"] = try DL4JConfigGenerator.permuteRowsHWCtoCHW(kernel, h: p.h, w: p.w, c: p.c)
        }
        let flat = try flatParameters(of: graph, config: config, total: total, dtype: dtype)
        let piece = DL4JCoefficientsStream.Piece(tensor: flat, sourceShape: [total], strides: [1])
        return try DL4JCoefficientsStream(count: total, dtype: dtype, pieces: [piece])
    }

    /// The graph's tensors in flat order with the layouts the reader reads them with, or nil
    /// when some parameter is not a plain layout change of a flat range.
    static func plannedPieces(of graph: Graph, config: DL4JNetworkConfig, total: Int, dtype: DType,
                              rowPermutations: [String: DL4JConfigGenerator.RowPermutation]) throws -> [DL4JCoefficientsStream.Piece]? {
        let planner = DL4JFlatParameters(planning: total, dtype: dtype)
        let planned = try DL4JReader.build(config, parameters: planner, file: nil)
        var placementOf: [ObjectIdentifier: Int] = [:]
        for (i, placement) in planner.placements.enumerated() { placementOf[ObjectIdentifier(placement.storage)] = i }
        var tensors = [Tensor?](repeating: nil, count: planner.placements.count)
        for (node, key, tensor, layout) in try writtenParameters(of: graph, as: planned) {
            guard let i = placementOf[ObjectIdentifier(layout.storage)], tensors[i] == nil,
                  planner.placements[i].count == layout.count else { return nil }
            tensors[i] = tensor.converted(to: dtype)
            if key == "kernel", let p = rowPermutations[node.name] {
                guard let folded = foldRowPermutation(planner.placements[i], p, kernelShape: tensor.shape) else { return nil }
                planner.placements[i] = folded
            }
        }
        var pieces: [DL4JCoefficientsStream.Piece] = []
        for (placement, tensor) in zip(planner.placements, tensors) {
            guard let tensor else { return nil }
            pieces.append(.init(tensor: tensor, sourceShape: placement.sourceShape, strides: placement.destinationStrides))
        }
        return pieces
    }

    /// Each parameter of the layers `written` (the written configuration read back) paired with
    /// the graph's tensor of the same node and key, checked to exist with the same shape.
    static func writtenParameters(of graph: Graph, as written: Graph) throws -> [(node: Node, key: String, tensor: Tensor, written: Tensor)] {
        var pairs: [(node: Node, key: String, tensor: Tensor, written: Tensor)] = []
        for writtenNode in written.nodes where !writtenNode.parameters.isEmpty {
            guard let node = graph.node(named: writtenNode.name) else {
                throw GraftError(.invalidGraph, "the written configuration has a layer the graph lacks", location: writtenNode.name)
            }
            for (key, layout) in writtenNode.parameters {
                guard let tensor = node.parameters[key] else {
                    throw GraftError(.shapeMismatch, "parameter missing for the written layer", location: node.name, field: key)
                }
                guard tensor.shape == layout.shape else {
                    throw GraftError(.shapeMismatch, "parameter shape does not match the written layer", location: node.name,
                                     field: key, expected: "\(layout.shape)", found: "\(tensor.shape)")
                }
                pairs.append((node, key, tensor, layout))
            }
        }
        return pairs
    }

    /// The placement of a dense kernel whose canonical rows DL4J reads in (c, h, w) order,
    /// rewritten to gather from the graph's kernel with (h, w, c) rows: the flat axis that
    /// walks the rows is split into c, h, w with the strides of the (h, w, c) kernel.
    static func foldRowPermutation(_ placement: DL4JFlatParameters.Placement, _ p: DL4JConfigGenerator.RowPermutation,
                                   kernelShape: [Int]) -> DL4JFlatParameters.Placement? {
        guard kernelShape.count == 2, kernelShape[0] == p.h * p.w * p.c else { return nil }
        let units = kernelShape[1]
        guard let axis = placement.sourceShape.indices.first(where: {
            placement.sourceShape[$0] == kernelShape[0] && placement.destinationStrides[$0] == units
        }) else { return nil }
        var folded = placement
        folded.sourceShape.replaceSubrange(axis...axis, with: [p.c, p.h, p.w])
        folded.destinationStrides.replaceSubrange(axis...axis, with: [units, p.w * p.c * units, p.c * units])
        return folded
    }

    /// The [N] flat parameter vector for `config`, filled from `graph`'s nodes by running the
    /// reader over a probe vector whose element k holds k: the reader's conversion to
    /// canonical layouts is a pure permutation, so each canonical parameter element learns
    /// its flat position from the probe, and the writer scatters the graph's values there.
    static func flatParameters(of graph: Graph, config: DL4JNetworkConfig, total: Int, dtype: DType) throws -> Tensor {
        // float64 holds every index below 2^53 exactly.
        let probe = Tensor(shape: [total], doubles: (0..<total).map(Double.init))
        let probed = try DL4JReader.build(config, flat: probe, file: nil)
        let size = dtype.size
        var bytes = [UInt8](repeating: 0, count: total * size)
        var filled = [Bool](repeating: false, count: total)
        for (node, key, tensor, positions) in try writtenParameters(of: graph, as: probed) {
            // Element bytes copied as they are: bit-exact, NaN payloads included.
            let flatPositions = positions.doubles()
            // Layers whose reading is not a pure permutation (BatchNormalization with
            // useLogStd) give positions that are not indices.
            guard flatPositions.allSatisfy({ $0 >= 0 && $0 < Double(total) && $0.rounded() == $0 }) else {
                throw GraftError(.unsupported, "node '\(node.name)' (\(node.op.kindName)): the layer's stored parameters are not a plain rearrangement of its canonical ones",
                                 location: node.name, field: key, expected: "e.g. BatchNormalization with useLogStd false")
            }
            tensor.converted(to: dtype).withUnsafeBytes { src in
                for (i, p) in flatPositions.enumerated() {
                    let k = Int(p)
                    for b in 0..<size { bytes[k * size + b] = src[i * size + b] }
                    filled[k] = true
                }
            }
        }
        if let missing = filled.firstIndex(of: false) {
            throw GraftError(.shapeMismatch, "the graph's parameters do not cover the written layers' parameter vector",
                             location: "coefficients.bin", expected: "\(total) parameters", found: "element \(missing) unset")
        }
        return try bytes.withUnsafeBytes { try Tensor(shape: [total], dtype: dtype, bytes: $0) }
    }
}
