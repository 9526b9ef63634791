import FuzzSupport
import GraftCore
import GraftDL4J

/// DL4J `configuration.json` mapping to the IR (MultiLayerNetwork and ComputationGraph,
/// current and legacy layer notations).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    Fuzz.run {
        let json = try JSONValue.parse(bytes: bytes)
        _ = try DL4JReader.readConfiguration(json: json, file: "configuration.json")
    }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
