import FuzzSupport
import GraftCore

/// The JSON parser every config reader stands on. A document it accepts must serialize to a
/// document it accepts again, with the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    Fuzz.run {
        let value = try JSONValue.parse(bytes: bytes)
        let again = try JSONValue.parse(value.serialized())
        precondition(again == value, "JSON round trip changed the value")
    }
    return 0
}

@main
enum Harness {
    static func main() { Fuzz.main(fuzzOne) }
}
