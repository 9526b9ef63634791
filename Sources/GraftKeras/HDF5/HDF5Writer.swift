import CHDF5
import Foundation
import GraftCore

/// An HDF5 file created for writing (truncating any file at `path`). Groups, string
/// attributes and numeric datasets are written the way h5py writes them for Keras:
/// fixed-length, null-padded ASCII strings (numpy `bytes_`), little-endian IEEE floats.
/// Close it with `close()`; an unclosed file is closed when released.
public final class HDF5WritableFile {
    public let path: String
    let id: hid_t
    private var closed = false

    public init(creating path: String) throws {
        graft_h5_silence_errors()
        self.path = path
        let fid = graft_h5_create_truncate(path)
        guard fid >= 0 else { throw GraftError(.io, "HDF5 could not create the file", file: path) }
        id = fid
    }

    deinit { if !closed { H5Fclose(id) } }

    /// Flushes and closes the file; every write error after this point is reported here.
    public func close() throws {
        guard !closed else { return }
        closed = true
        // Groups still referenced keep the file open after H5Fclose: flush everything first
        // so the bytes on disk are complete now.
        let flushed = H5Fflush(id, H5F_SCOPE_GLOBAL)
        guard H5Fclose(id) >= 0, flushed >= 0 else { throw GraftError(.io, "HDF5 could not finish the file", file: path) }
    }

    /// The root group, for writing.
    public func root() throws -> HDF5WritableGroup {
        let gid = H5Gopen2(id, "/", graft_h5p_default())
        guard gid >= 0 else { throw GraftError(.io, "cannot open the root group", file: path, location: "/") }
        return HDF5WritableGroup(id: gid, path: "/", file: self)
    }
}

/// A group being written. Holds its HDF5 id open until released.
public final class HDF5WritableGroup {
    let id: hid_t
    public let path: String
    let file: HDF5WritableFile

    init(id: hid_t, path: String, file: HDF5WritableFile) { self.id = id; self.path = path; self.file = file }
    deinit { H5Gclose(id) }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    func error(_ message: String, at name: String) -> GraftError {
        GraftError(.io, message, file: file.path, location: childPath(name))
    }

    /// Creates the subgroup `name` (and missing groups on the way when it contains `/`), or
    /// opens it when it exists.
    public func group(_ name: String) throws -> HDF5WritableGroup {
        graft_h5_silence_errors()
        if H5Lexists(id, name, graft_h5p_default()) > 0 {
            let gid = H5Gopen2(id, name, graft_h5p_default())
            guard gid >= 0 else { throw error("cannot open group", at: name) }
            return HDF5WritableGroup(id: gid, path: childPath(name), file: file)
        }
        let lcpl = graft_h5p_new_intermediate_lcpl()
        defer { if lcpl >= 0 { H5Pclose(lcpl) } }
        let gid = H5Gcreate2(id, name, lcpl, graft_h5p_default(), graft_h5p_default())
        guard gid >= 0 else { throw error("cannot create group", at: name) }
        return HDF5WritableGroup(id: gid, path: childPath(name), file: file)
    }

    /// A scalar variable-length string attribute, as tf-keras 2.x writes `model_config`
    /// (ASCII) and `keras_version` (UTF-8) through h5py.
    public func setStringAttribute(_ name: String, _ value: String, utf8: Bool = false) throws {
        try writeStrings(name, [value], scalar: true, utf8: utf8)
    }

    /// A 1-D array of variable-length ASCII strings (as tf-keras writes `layer_names` and
    /// `weight_names`). Keras' loaders read lists over 64512 bytes split into `name0`,
    /// `name1`, …; so does this writer. An empty list is written as an empty float array,
    /// as numpy stores `[]`.
    public func setStringArrayAttribute(_ name: String, _ values: [String]) throws {
        let limit = 64512
        let total = values.reduce(0) { $0 + $1.utf8.count }
        if total <= limit || values.count <= 1 {
            try writeStrings(name, values, scalar: false, utf8: false)
            return
        }
        var chunks: [[String]] = [[]]
        var size = 0
        for v in values {
            if size + v.utf8.count > limit, !(chunks[chunks.count - 1].isEmpty) { chunks.append([]); size = 0 }
            chunks[chunks.count - 1].append(v)
            size += v.utf8.count
        }
        for (i, chunk) in chunks.enumerated() { try writeStrings("\(name)\(i)", chunk, scalar: false, utf8: false) }
    }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool, utf8: Bool) throws {
        graft_h5_silence_errors()
        if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
        if values.isEmpty {
            var dims: [hsize_t] = [0]
            let space = H5Screate_simple(1, &dims, nil)
            guard space >= 0 else { throw error("cannot create attribute space", at: "@" + name) }
            defer { H5Sclose(space) }
            let aid = H5Acreate2(id, name, graft_h5t_ieee_f64le(), space, graft_h5p_default(), graft_h5p_default())
            guard aid >= 0 else { throw error("cannot create attribute", at: "@" + name) }
            H5Aclose(aid)
            return
        }
        let type = H5Tcopy(graft_h5t_c_s1())
        guard type >= 0 else { throw error("cannot build a string type", at: "@" + name) }
        defer { H5Tclose(type) }
        H5Tset_size(type, hdf5VariableSize)
        H5Tset_cset(type, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII)
        let space: hid_t
        if scalar {
            space = H5Screate(H5S_SCALAR)
        } else {
            var dims: [hsize_t] = [hsize_t(values.count)]
            space = H5Screate_simple(1, &dims, nil)
        }
        guard space >= 0 else { throw error("cannot create attribute space", at: "@" + name) }
        defer { H5Sclose(space) }
        let aid = H5Acreate2(id, name, type, space, graft_h5p_default(), graft_h5p_default())
        guard aid >= 0 else { throw error("cannot create attribute", at: "@" + name) }
        defer { H5Aclose(aid) }
        // Keep every C string alive until the write returns.
        let cStrings = values.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        guard H5Awrite(aid, type, &pointers) >= 0 else { throw error("cannot write attribute", at: "@" + name) }
    }

    /// Writes `tensor` as a dataset at `name` (which may contain `/`: missing groups are
    /// created), little-endian, contiguous, as h5py does.
    ///
    /// With `sourceRow`, the dataset's row r (along the first axis) is the tensor's row
    /// `sourceRow(r)`: the rows are gathered in blocks into a small buffer and written block
    /// by block, so a row permutation costs no copy of the whole tensor.
    public func writeDataset(_ name: String, _ tensor: Tensor, sourceRow: ((Int) -> Int)? = nil) throws {
        graft_h5_silence_errors()
        var closeFileType = false
        let fileType: hid_t
        let memoryType: hid_t
        switch tensor.dtype {
        case .float16:
            fileType = graft_h5t_new_ieee_f16le(); memoryType = fileType; closeFileType = true
        case .float32: fileType = graft_h5t_ieee_f32le(); memoryType = graft_h5t_native_float()
        case .float64: fileType = graft_h5t_ieee_f64le(); memoryType = graft_h5t_native_double()
        case .int8: fileType = graft_h5t_std_i8le(); memoryType = graft_h5t_native_int8()
        case .uint8: fileType = graft_h5t_std_u8le(); memoryType = graft_h5t_native_uint8()
        case .int16: fileType = graft_h5t_std_i16le(); memoryType = graft_h5t_native_int16()
        case .int32: fileType = graft_h5t_std_i32le(); memoryType = graft_h5t_native_int32()
        case .int64: fileType = graft_h5t_std_i64le(); memoryType = graft_h5t_native_int64()
        case .bool:
            throw GraftError(.unsupported, "boolean weights cannot be written", file: file.path, location: childPath(name))
        }
        guard fileType >= 0 else { throw error("cannot build the element type", at: name) }
        defer { if closeFileType { H5Tclose(fileType) } }
        let space: hid_t
        if tensor.rank == 0 {
            space = H5Screate(H5S_SCALAR)
        } else {
            var dims = tensor.shape.map { hsize_t($0) }
            space = H5Screate_simple(Int32(dims.count), &dims, nil)
        }
        guard space >= 0 else { throw error("cannot create dataset space", at: name) }
        defer { H5Sclose(space) }
        let lcpl = graft_h5p_new_intermediate_lcpl()
        defer { if lcpl >= 0 { H5Pclose(lcpl) } }
        let did = H5Dcreate2(id, name, fileType, space, lcpl, graft_h5p_default(), graft_h5p_default())
        guard did >= 0 else { throw error("cannot create dataset", at: name) }
        defer { H5Dclose(did) }
        if tensor.count > 0, let sourceRow, tensor.rank >= 1 {
            try writeRows(did, memoryType, tensor, sourceRow: sourceRow, name: name)
        } else if tensor.count > 0 {
            let status = tensor.withUnsafeBytes { raw in
                H5Dwrite(did, memoryType, graft_h5s_all(), graft_h5s_all(), graft_h5p_default(), raw.baseAddress)
            }
            guard status >= 0 else { throw error("cannot write dataset", at: name) }
        }
    }

    /// Writes dataset row r from the tensor's row `sourceRow(r)`, about 4 MiB of rows at a time.
    private func writeRows(_ did: hid_t, _ memoryType: hid_t, _ tensor: Tensor, sourceRow: (Int) -> Int, name: String) throws {
        let rows = tensor.shape[0]
        let rowBytes = tensor.byteCount / max(rows, 1)
        let blockRows = max(1, min(rows, (4 << 20) / max(rowBytes, 1)))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(blockRows * rowBytes, 1), alignment: 4096)
        defer { buffer.deallocate() }
        let fileSpace = H5Dget_space(did)
        guard fileSpace >= 0 else { throw error("cannot get dataset space", at: name) }
        defer { H5Sclose(fileSpace) }
        var start = 0
        while start < rows {
            let count = min(blockRows, rows - start)
            try tensor.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                for r in 0..<count {
                    let from = sourceRow(start + r)
                    guard from >= 0, from < rows else { throw error("row gather out of range", at: name) }
                    (buffer + r * rowBytes).copyMemory(from: base + from * rowBytes, byteCount: rowBytes)
                }
            }
            var offset = [hsize_t](repeating: 0, count: tensor.rank)
            offset[0] = hsize_t(start)
            var extent = tensor.shape.map { hsize_t($0) }
            extent[0] = hsize_t(count)
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offset, nil, &extent, nil) >= 0 else {
                throw error("cannot select rows", at: name)
            }
            let memorySpace = H5Screate_simple(Int32(extent.count), &extent, nil)
            guard memorySpace >= 0 else { throw error("cannot create dataset space", at: name) }
            defer { H5Sclose(memorySpace) }
            guard H5Dwrite(did, memoryType, memorySpace, fileSpace, graft_h5p_default(), buffer) >= 0 else {
                throw error("cannot write dataset", at: name)
            }
            start += count
        }
    }
}
