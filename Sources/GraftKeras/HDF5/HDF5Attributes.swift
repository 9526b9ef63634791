import CHDF5
import GraftCore

/// The largest attribute Graft reads (HDF5 keeps attributes in object headers of at most
/// 64 KiB, or in dense storage for larger ones; Keras splits anything over 64512 bytes).
let hdf5MaxAttributeBytes = 64 << 20

/// `H5T_VARIABLE`, `(size_t)-1`; Swift imports `size_t` as `Int`.
let hdf5VariableSize = -1

extension HDF5Object {
    public var file: HDF5File { handle.file }

    public func hasAttribute(_ name: String) -> Bool {
        graft_h5_silence_errors()
        return H5Aexists(handle.id, name) > 0
    }

    /// Runs `body` with the attribute's id, its file type and its element count.
    func withAttribute<R>(_ name: String, _ body: (hid_t, hid_t, Int) throws -> R) throws -> R {
        graft_h5_silence_errors()
        let location = "\(path) attribute '\(name)'"
        let aid = H5Aopen(handle.id, name, graft_h5p_default())
        // Callers ask only for attributes that exist (`hasAttribute`): one that cannot be opened is broken.
        guard aid >= 0 else {
            throw file.error("cannot open attribute", at: location, expected: "an attribute libhdf5 can decode",
                             found: "one it refuses")
        }
        defer { H5Aclose(aid) }
        let type = H5Aget_type(aid)
        guard type >= 0 else { throw file.error("cannot read attribute type", at: location) }
        defer { H5Tclose(type) }
        let space = H5Aget_space(aid)
        guard space >= 0 else { throw file.error("cannot read attribute shape", at: location) }
        defer { H5Sclose(space) }
        let points = H5Sget_simple_extent_npoints(space)
        guard points >= 0 else { throw file.error("cannot read attribute shape", at: location) }
        let elementSize = H5Tget_size(type)
        let (total, overflow) = Int(points).multipliedReportingOverflow(by: max(elementSize, 1))
        guard !overflow, total <= hdf5MaxAttributeBytes else {
            throw file.error("attribute too large", at: location, expected: "at most \(hdf5MaxAttributeBytes) bytes",
                             found: "\(points) elements of \(elementSize) bytes")
        }
        return try body(aid, type, Int(points))
    }

    /// A string attribute as a list of strings: scalar or array, fixed or variable length,
    /// ASCII or UTF-8 (numpy `bytes_`, `str` and object arrays all arrive here). Nil when the
    /// attribute is absent; an error when it is not a string.
    public func stringsAttribute(_ name: String) throws -> [String]? {
        guard hasAttribute(name) else { return nil }
        let location = "\(path) attribute '\(name)'"
        return try withAttribute(name) { aid, type, count -> [String] in
            // numpy writes an empty list as an empty float array.
            if count == 0 { return [] }
            guard H5Tget_class(type) == H5T_STRING else {
                throw file.error("attribute is not a string", at: location, expected: "a string attribute",
                                 found: "HDF5 type class \(H5Tget_class(type).rawValue)")
            }
            let space = H5Aget_space(aid)
            defer { H5Sclose(space) }
            if H5Tis_variable_str(type) > 0 {
                let memType = H5Tcopy(graft_h5t_c_s1())
                defer { H5Tclose(memType) }
                H5Tset_size(memType, hdf5VariableSize)
                H5Tset_cset(memType, H5Tget_cset(type))
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Aread(aid, memType, &pointers) >= 0 else {
                    throw file.error("cannot read string attribute", at: location, kind: .io)
                }
                let strings = pointers.map { p in p.map { String(cString: $0) } ?? "" }
                _ = pointers.withUnsafeMutableBytes { graft_h5_reclaim(memType, space, $0.baseAddress) }
                return strings
            }
            let size = H5Tget_size(type)
            guard size > 0 else { return Array(repeating: "", count: count) }
            let memType = H5Tcopy(type)
            defer { H5Tclose(memType) }
            var bytes = [UInt8](repeating: 0, count: count * size)
            guard H5Aread(aid, memType, &bytes) >= 0 else {
                throw file.error("cannot read string attribute", at: location, kind: .io)
            }
            return (0..<count).map { i in
                let element = bytes[(i * size)..<((i + 1) * size)]
                return String(decoding: element.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
    }

    /// A single string attribute (a scalar, or an array of exactly one string).
    public func stringAttribute(_ name: String) throws -> String? {
        guard let strings = try stringsAttribute(name) else { return nil }
        guard strings.count == 1 else {
            throw file.error("expected one string", at: "\(path) attribute '\(name)'", found: "\(strings.count) strings")
        }
        return strings[0]
    }

    /// A string-list attribute that Keras may have split into numbered chunks
    /// (`name0`, `name1`, …) because it exceeded the 64 KiB object-header limit.
    public func chunkedStringsAttribute(_ name: String) throws -> [String]? {
        if let whole = try stringsAttribute(name) { return whole }
        var result: [String] = []
        var index = 0
        while let chunk = try stringsAttribute("\(name)\(index)") {
            result += chunk
            index += 1
        }
        return index == 0 ? nil : result
    }

    /// A numeric attribute's values converted to Double. Nil when absent.
    public func numbersAttribute(_ name: String) throws -> [Double]? {
        guard hasAttribute(name) else { return nil }
        let location = "\(path) attribute '\(name)'"
        return try withAttribute(name) { aid, type, count -> [Double] in
            let typeClass = H5Tget_class(type)
            guard typeClass == H5T_INTEGER || typeClass == H5T_FLOAT else {
                throw file.error("attribute is not numeric", at: location, expected: "an integer or float attribute")
            }
            var values = [Double](repeating: 0, count: count)
            if count > 0 {
                guard H5Aread(aid, graft_h5t_native_double(), &values) >= 0 else {
                    throw file.error("cannot read numeric attribute", at: location, kind: .io)
                }
            }
            return values
        }
    }
}
