import FuzzSupport
import GraftCore
import GraftDL4J

/// Nd4j binary arrays (`coefficients.bin`, `updaterState.bin`, the regression inputs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    Fuzz.run { _ = try Nd4jArray.decode(bytes, file: "fuzz.bin") }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
