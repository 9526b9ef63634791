import GraftCore

/// Generates a DL4J configuration for graphs that did not come from DL4J.
enum DL4JConfigGenerator {
    static func generate(_ graph: Graph, report: inout ConversionReport) throws -> (JSONValue, Graph) {
        throw GraftError(.unsupported, "generating DL4J configurations is not implemented yet")
    }
}
