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
    /// Writes `graph` to `path` atomically (temporary file, then rename).
    @discardableResult
    public static func write(_ graph: Graph, to path: String) throws -> ConversionReport {
        let (entries, report) = try encode(graph)
        try AtomicFile.write(Data(try ZipWriter.archive(entries, deflate: true)), to: path)
        return report
    }

    /// The zip entries (name, bytes) of `graph` in DL4J's order, and what was converted or dropped.
    public static func encode(_ graph: Graph) throws -> (entries: [(String, [UInt8])], report: ConversionReport) {
        var report = ConversionReport()
        let configuration: JSONValue
        let keepsLayout: Bool
        var prepared = graph
        if let original = DL4JConfigUpgrade.originalConfiguration(of: graph) {
            configuration = try DL4JConfigUpgrade.upgrade(original, report: &report)
            keepsLayout = true
        } else {
            (configuration, prepared) = try DL4JConfigGenerator.generate(graph, report: &report)
            keepsLayout = false
        }
        let flat = try flatParameters(of: prepared, configuration: configuration)
        var entries: [(String, [UInt8])] = [("configuration.json", Array(configuration.serialized(pretty: true).utf8))]
        if let flat {
            entries.append(("coefficients.bin", try Nd4jArray.encodeMixedDataTypes(flat)))
        } else {
            entries.append(("noParams.marker", []))
        }
        for name in graph.source.attachments.keys.sorted() where name != "noParams.marker" {
            guard let bytes = graph.source.attachments[name] else { continue }
            if name == "updaterState.bin" && !(keepsLayout && flat != nil) {
                report.add(.dropped, node: nil, "updaterState.bin: the parameter layout changed, so the saved updater state no longer lines up")
                continue
            }
            entries.append((name, bytes))
        }
        return (entries, report)
    }

    /// The [1, N] flat parameter vector for `configuration`, filled from `graph`'s nodes
    /// (nil when the configuration has no parameters).
    static func flatParameters(of graph: Graph, configuration: JSONValue) throws -> Tensor? {
        let config = try DL4JNetworkConfig.parse(configuration, file: nil)
        let total = graph.parameterCount
        guard total > 0 else { return nil }
        // float64 holds every index below 2^53 exactly.
        let probe = Tensor(shape: [total], doubles: (0..<total).map(Double.init))
        let probed = try DL4JReader.build(config, flat: probe, file: nil)
        let dtype = graph.nodes.lazy.flatMap(\.parameters.values).first?.dtype ?? .float32
        let size = dtype.size
        var bytes = [UInt8](repeating: 0, count: total * size)
        var filled = [Bool](repeating: false, count: total)
        for probeNode in probed.nodes where !probeNode.parameters.isEmpty {
            guard let node = graph.node(named: probeNode.name) else {
                throw GraftError(.invalidGraph, "the written configuration has a layer the graph lacks", location: probeNode.name)
            }
            for (key, positions) in probeNode.parameters {
                guard let tensor = node.parameters[key] else {
                    throw GraftError(.shapeMismatch, "parameter missing for the written layer", location: node.name, field: key)
                }
                guard tensor.shape == positions.shape else {
                    throw GraftError(.shapeMismatch, "parameter shape does not match the written layer", location: node.name,
                                     field: key, expected: "\(positions.shape)", found: "\(tensor.shape)")
                }
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
        }
        if let missing = filled.firstIndex(of: false) {
            throw GraftError(.shapeMismatch, "the graph's parameters do not cover the written layers' parameter vector",
                             location: "coefficients.bin", expected: "\(total) parameters", found: "element \(missing) unset")
        }
        return try bytes.withUnsafeBytes { try Tensor(shape: [1, total], dtype: dtype, bytes: $0) }
    }
}
