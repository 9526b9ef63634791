import FuzzSupport
import GraftCore
import GraftIO

/// Keras 3 `.keras` archives (zip with `config.json`, `metadata.json`, `model.weights.h5`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "input.keras")
    Fuzz.run { _ = try ModelFile.load(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
