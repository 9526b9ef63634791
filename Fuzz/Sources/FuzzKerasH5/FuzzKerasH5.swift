import FuzzSupport
import GraftCore
import GraftIO

/// Keras HDF5 model files through `ModelFile.load` (libhdf5, our HDF5 wrapper and its checks,
/// the model config, the weight groups).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "input.h5")
    Fuzz.run { _ = try ModelFile.load(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
