import GraftCore
import XCTest

final class JSONValueTests: XCTestCase {
    func testKeyOrderAndNumberTextArePreserved() throws {
        let text = #"{"zeta": 1.0, "alpha": 1e-07, "mid": -0.0, "big": 12345678901234567890, "list": [3, 2.50, 1E+3]}"#
        let v = try JSONValue.parse(text)
        XCTAssertEqual(v.objectValue.map { Array($0.keys) }, ["zeta", "alpha", "mid", "big", "list"])
        XCTAssertEqual(v["zeta"], .number("1.0"))
        XCTAssertEqual(v["alpha"], .number("1e-07"))
        XCTAssertEqual(v["mid"], .number("-0.0"))
        XCTAssertEqual(v["big"], .number("12345678901234567890"))
        XCTAssertEqual(v.serialized(), text, "compact output reproduces the input exactly")
        XCTAssertEqual(try JSONValue.parse(v.serialized(pretty: true)), v)
    }

    func testLiteralsAndAccessors() throws {
        let v = try JSONValue.parse(" [true, false, null, \"s\", {\"k\": [1, 2]}, 3.0] ")
        XCTAssertEqual(v[0]?.boolValue, true)
        XCTAssertEqual(v[1]?.boolValue, false)
        XCTAssertEqual(v[2]?.isNull, true)
        XCTAssertEqual(v[3]?.stringValue, "s")
        XCTAssertEqual(v[4]?["k"]?.intArray, [1, 2])
        XCTAssertEqual(v[5]?.intValue, 3)
        XCTAssertNil(v[6])
        XCTAssertEqual(try JSONValue.parse("NaN"), .number("NaN"))
        XCTAssertEqual(try JSONValue.parse("-Infinity"), .number("-Infinity"))
    }

    func testEscapesAndUnicode() throws {
        let v = try JSONValue.parse(#"["a\"b\\c\/d\n\t\r\b\f\u0001", "\u00e9\ud83d\ude00", "raw é 😀"]"#)
        XCTAssertEqual(v[0]?.stringValue, "a\"b\\c/d\n\t\r\u{08}\u{0C}\u{01}")
        XCTAssertEqual(v[1]?.stringValue, "é😀")
        XCTAssertEqual(v[2]?.stringValue, "raw é 😀")
        let out = JSONValue.string("q\"\\\n\u{01}é").serialized()
        XCTAssertEqual(out, #""q\"\\\n\u0001é""#)
        XCTAssertEqual(try JSONValue.parse(out), .string("q\"\\\n\u{01}é"))
    }

    /// Lone surrogates (which Python's json writes for unpaired halves) become U+FFFD, and a
    /// high surrogate followed by an unrelated escape keeps that escape.
    func testLoneSurrogates() throws {
        XCTAssertEqual(try JSONValue.parse(#""\ud83dA""#).stringValue, "\u{FFFD}A")
        XCTAssertEqual(try JSONValue.parse(#""\ud83d\u0041""#).stringValue, "\u{FFFD}A")
        XCTAssertEqual(try JSONValue.parse(#""\ude00x""#).stringValue, "\u{FFFD}x")
        XCTAssertEqual(try JSONValue.parse(#""\ud83d""#).stringValue, "\u{FFFD}")
    }

    func testDepthLimit() throws {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { error in
            let e = error as? GraftError
            XCTAssertEqual(e?.kind, .malformed)
            XCTAssertTrue(e?.message.contains("nesting") ?? false, "\(error)")
        }
        XCTAssertNoThrow(try JSONValue.parse("[[[]]]", maxDepth: 3))
        XCTAssertThrowsError(try JSONValue.parse("[[[]]]", maxDepth: 2))
    }

    func testMalformedInputs() {
        let cases = ["", "{", "[1,]", "[1 2]", #"{"a" 1}"#, "{1: 2}", "tru", #""abc"#, "1 2", #""\x""#, "-", #""\u12"#, "{\"a\": 1,}", "]"]
        for text in cases {
            XCTAssertThrowsError(try JSONValue.parse(text), "accepted \(text)") { error in
                XCTAssertEqual((error as? GraftError)?.kind, .malformed, text)
            }
        }
    }
}
