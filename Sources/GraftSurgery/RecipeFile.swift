import Foundation
import GraftCore
import Yams

extension Recipe {
    /// The two notations a recipe file may use.
    public enum Notation: String, Sendable {
        case json, yaml

        /// `.yaml`/`.yml` → YAML, `.json` → JSON; any other name by content: JSON when the
        /// first non-blank character is `{`, else YAML.
        public static func of(path: String, text: String) -> Notation {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "yaml", "yml": return .yaml
            case "json": return .json
            default: return text.first(where: { !$0.isWhitespace }) == "{" ? .json : .yaml
            }
        }
    }

    /// Reads and parses a recipe file, JSON or YAML (see `Notation.of`). Every error names the
    /// file; a YAML error also names the line (syntax errors, and each step's line).
    public static func load(path: String, foreignLayers: ForeignLayerParser? = nil) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw GraftError(.io, "cannot read recipe file", file: path) }
        let text = String(decoding: data, as: UTF8.self)
        do {
            switch Notation.of(path: path, text: text) {
            case .json: return try parse(json: text, foreignLayers: foreignLayers)
            case .yaml: return try parse(yaml: text, foreignLayers: foreignLayers)
            }
        } catch { throw error.graftError(file: path) }
    }

    /// Parses a YAML recipe: the same document as the JSON form (`ops:` and a list of steps).
    public static func parse(yaml text: String, foreignLayers: ForeignLayerParser? = nil) throws -> Recipe {
        let (document, stepLines) = try RecipeYAML.document(text)
        return try parse(document, foreignLayers: foreignLayers, stepLines: stepLines)
    }
}

/// YAML → the JSON value a recipe is read from. Mappings become objects (key order kept),
/// sequences arrays; scalars by their resolved YAML tag (null, bool, int, float, string), and a
/// plain scalar that reads as a JSON number (`5e-5`, which YAML 1.1 leaves a string) is a number.
/// Anchors and aliases, and keys that are not strings, are refused.
enum RecipeYAML {
    static func document(_ text: String) throws -> (JSONValue, stepLines: [Int]) {
        let root: Yams.Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw syntaxError(error, text: text)
        }
        guard let root else { throw GraftError(.malformed, "empty YAML recipe", location: "line 1", expected: "ops: [...]") }
        let value = try json(root)
        var lines: [Int] = []
        if case .mapping(let top) = root {
            for (key, v) in top where key.scalar?.string == "ops" {
                if case .sequence(let steps) = v { lines = steps.map { $0.mark?.line ?? 0 } }
            }
        }
        return (value, lines)
    }

    static func location(_ node: Yams.Node) -> String? { node.mark.map { "line \($0.line)" } }

    static func json(_ node: Yams.Node) throws -> JSONValue {
        switch node {
        case .mapping(let mapping):
            var object = JSONValue.object([:])
            var seen = Set<String>()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    throw GraftError(.malformed, "YAML mapping key is not a string", location: location(key), expected: "a plain key")
                }
                guard seen.insert(name).inserted else {
                    throw GraftError(.malformed, "duplicate key in YAML mapping", location: location(key), field: name)
                }
                if case .object(var o) = object { o[name] = try json(value); object = .object(o) }
            }
            return object
        case .sequence(let sequence):
            return .array(try sequence.map(json))
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: if let b = node.bool { return .bool(b) }
            case Tag.Name.int.rawValue: if let i = node.int { return JSONValue(i) }
            case Tag.Name.float.rawValue: if let d = node.float { return JSONValue(d) }
            default: break
            }
            if scalar.style == .plain, (try? JSONValue.parse(scalar.string))?.doubleValue != nil,
               scalar.string.first.map({ $0 == "-" || $0.isNumber }) == true {
                return .number(scalar.string)
            }
            return .string(scalar.string)
        case .alias:
            throw GraftError(.unsupported, "YAML aliases are not supported in recipes", location: location(node))
        }
    }

    static func syntaxError(_ error: YamlError, text: String) -> GraftError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return GraftError(.malformed, "invalid YAML: \(problem)", location: "line \(mark.line), column \(mark.column)")
        case .reader(let problem, let offset, _, _):
            let line = offset.map { o in 1 + text.utf8.prefix(o).filter { $0 == UInt8(ascii: "\n") }.count }
            return GraftError(.malformed, "invalid YAML: \(problem)", location: line.map { "line \($0)" })
        case .duplicatedKeysInMapping(let duplicates, let context):
            return GraftError(.malformed, "duplicate key in YAML mapping", location: "line \(context.mark.line)",
                              found: duplicates.joined(separator: ", "))
        default:
            return GraftError(.malformed, "invalid YAML: \(error)")
        }
    }
}
