import FuzzSupport
import GraftCore
import GraftIO

/// Whole DL4J ModelSerializer zips through `ModelFile.load` (format detection, zip layer,
/// configuration, `coefficients.bin`, updater state, normalizer).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let path = Fuzz.file(Fuzz.bytes(data, size), name: "input.zip")
    Fuzz.run { _ = try ModelFile.load(path: path) }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
