import FuzzSupport
import GraftCore
import GraftKeras

/// Keras architecture JSON configs, read with the matching weights-only HDF5 fixture, so a
/// config that parses goes on to the layer mapping and weight lookup.
let weights = Fuzz.fixtures + "/lstm_timeseries_weights.h5"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "config.json")
    Fuzz.run { _ = try KerasReader.read(configPath: path, weightsPath: weights) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
