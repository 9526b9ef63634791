import CHDF5
import GraftCore

/// An HDF5 dataset of numbers, read whole into a `Tensor`.
public struct HDF5Dataset: HDF5Object, @unchecked Sendable {
    public let handle: HDF5Handle
    public let path: String

    /// The dataset's dimensions (empty for a scalar). Rank and sizes are checked against
    /// HDF5's limits before use.
    public func shape() throws -> [Int] {
        graft_h5_silence_errors()
        let space = H5Dget_space(handle.id)
        guard space >= 0 else { throw file.error("cannot read dataset shape", at: path) }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else {
            throw file.error("unreadable dataset rank", at: path, expected: "0...32", found: "\(rank)")
        }
        if rank == 0 {
            guard H5Sget_simple_extent_type(space) == H5S_SCALAR else {
                throw file.error("empty (null) dataspace", at: path, expected: "an array or a scalar")
            }
            return []
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else {
            throw file.error("cannot read dataset dimensions", at: path)
        }
        return try dims.map { d in
            guard d <= hsize_t(Int.max) else { throw file.error("dataset dimension too large", at: path, found: "\(d)") }
            return Int(d)
        }
    }

    /// The dtype the dataset's file type maps to, and the memory type to read it with.
    /// The memory type is owned by the caller only when `close` is true.
    func elementType() throws -> (dtype: DType, memoryType: hid_t, close: Bool) {
        graft_h5_silence_errors()
        let type = H5Dget_type(handle.id)
        guard type >= 0 else { throw file.error("cannot read dataset type", at: path) }
        defer { H5Tclose(type) }
        let size = H5Tget_size(type)
        let typeClass = H5Tget_class(type)
        if typeClass == H5T_FLOAT {
            if hasAttribute("dtype"), (try? stringAttribute("dtype")) == "bfloat16" {
                throw file.error("bfloat16 weights are not supported", at: path, kind: .unsupported,
                                 expected: "float16, float32 or float64", found: "bfloat16")
            }
            switch size {
            case 2:
                let half = graft_h5t_new_ieee_f16le()
                guard half >= 0 else { throw file.error("cannot build the float16 memory type", at: path) }
                return (.float16, half, true)
            case 4: return (.float32, graft_h5t_native_float(), false)
            case 8: return (.float64, graft_h5t_native_double(), false)
            default: break
            }
        } else if typeClass == H5T_INTEGER {
            let unsigned = H5Tget_sign(type) == H5T_SGN_NONE
            switch (size, unsigned) {
            case (1, false): return (.int8, graft_h5t_native_int8(), false)
            case (1, true): return (.uint8, graft_h5t_native_uint8(), false)
            case (2, false): return (.int16, graft_h5t_native_int16(), false)
            case (4, false): return (.int32, graft_h5t_native_int32(), false)
            case (8, false): return (.int64, graft_h5t_native_int64(), false)
            default: break
            }
        } else if typeClass == H5T_ENUM, size == 1 {
            // h5py stores numpy bools as an enum over int8 {FALSE = 0, TRUE = 1}.
            let native = H5Tget_native_type(type, H5T_DIR_ASCEND)
            guard native >= 0 else { throw file.error("cannot read dataset type", at: path) }
            return (.bool, native, true)
        }
        throw file.error("unsupported dataset element type", at: path, kind: .unsupported,
                         expected: "float16/32/64, int8/16/32/64, uint8 or bool",
                         found: "HDF5 type class \(typeClass.rawValue), \(size) bytes")
    }

    /// The element type as a `DType`.
    public func dtype() throws -> DType {
        let t = try elementType()
        if t.close { H5Tclose(t.memoryType) }
        return t.dtype
    }

    /// Reads the whole dataset into a new tensor, straight into its page-aligned storage.
    /// Checks the declared size against the bytes the file stores before allocating.
    public func read() throws -> Tensor {
        graft_h5_silence_errors()
        switch graft_h5_dataset_is_external(handle.id) {
        case 0: break
        case 1: throw file.error("dataset stored outside the file refused", at: path, kind: .unsupported,
                                 expected: "data stored in this file", found: "external or virtual storage")
        default: throw file.error("cannot read dataset storage properties", at: path)
        }
        let shape = try shape()
        let type = try elementType()
        defer { if type.close { H5Tclose(type.memoryType) } }
        let needed: Int
        do {
            needed = try Tensor.checkedByteCount(shape: shape, dtype: type.dtype)
        } catch let e as GraftError {
            throw e.inFile(file.path).at(path)
        }
        // A file cannot legitimately declare far more data than it stores: contiguous and
        // compact datasets store every byte; chunked ones may be compressed (deflate stays
        // under ~1032:1).
        let stored = Int(clamping: H5Dget_storage_size(handle.id))
        let layout = graft_h5_dataset_layout(handle.id)
        let allowed = layout == 2 ? stored.multipliedReportingOverflow(by: 2048).partialValue : stored
        if needed > 0, needed > allowed {
            throw file.error("dataset declares more data than the file stores", at: path,
                             expected: "at most \(allowed) bytes for \(shape) \(type.dtype)", found: "\(stored) bytes stored")
        }
        let storage = TensorStorage(byteCount: needed)
        if needed > 0, layout == 1, stored == needed, try readContiguous(into: storage, byteCount: needed, memoryType: type.memoryType) {
            return try Tensor(shape: shape, dtype: type.dtype, storage: storage)
        }
        if needed > 0 {
            guard H5Dread(handle.id, type.memoryType, graft_h5s_all(), graft_h5s_all(), graft_h5p_default(),
                          storage.pointer) >= 0 else {
                throw file.error("cannot read dataset", at: path, kind: .io)
            }
        }
        return try Tensor(shape: shape, dtype: type.dtype, storage: storage)
    }
}
