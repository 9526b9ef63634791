/// The one error type every Graft module throws. It says what went wrong and where:
/// which file, which place inside it (layer, entry, dataset), which field, what was
/// expected and what was found.
public struct GraftError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure. The CLI maps `.verificationFailed` to exit code 1 and
    /// everything else to exit code 2.
    public enum Kind: String, Sendable, Codable {
        case io                  // a file could not be opened, read or written
        case malformed           // bytes or JSON that do not follow the format
        case unsupported         // a valid construct Graft does not handle (yet)
        case unknownLayer        // a layer class that is neither known nor opaque-carriable
        case opaqueLayer         // an opaque (Lambda/custom) node asked to compute
        case shapeMismatch       // parameter or data shapes disagree
        case missingWeights      // a parameter named by the config is absent
        case invalidGraph        // dangling inputs, cycles, duplicate names
        case invalidArgument     // a bad call or command-line argument
        case verificationFailed  // two models did not compute the same thing
    }

    public var kind: Kind
    public var message: String
    public var file: String?
    /// The place inside the file or graph: a layer, a zip entry, a dataset path.
    public var location: String?
    public var field: String?
    public var expected: String?
    public var found: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil, location: String? = nil,
                field: String? = nil, expected: String? = nil, found: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.location = location
        self.field = field
        self.expected = expected
        self.found = found
    }

    /// The same error with a file attached, unless it already names one.
    public func inFile(_ path: String) -> GraftError {
        var copy = self
        if copy.file == nil { copy.file = path }
        return copy
    }

    /// The same error with a location attached, unless it already names one.
    public func at(_ location: String) -> GraftError {
        var copy = self
        if copy.location == nil { copy.location = location }
        return copy
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let location { parts.append(location) }
        if let field { parts.append("field '\(field)'") }
        var text = parts.isEmpty ? message : parts.joined(separator: ": ") + ": " + message
        if let expected { text += "; expected \(expected)" }
        if let found { text += ", found \(found)" }
        return text
    }
}

extension Error {
    /// Attach a file to a `GraftError`; wrap any other error as an I/O error on that file.
    public func graftError(file: String) -> GraftError {
        if let g = self as? GraftError { return g.inFile(file) }
        return GraftError(.io, "\(self)", file: file)
    }
}
