#ifndef GRAFT_CHDF5_SHIM_H
#define GRAFT_CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5's predefined type ids are macros that call H5open(); Swift cannot import them. */
static inline hid_t graft_h5t_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t graft_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t graft_h5t_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t graft_h5t_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t graft_h5t_native_uint8(void)  { return H5T_NATIVE_UINT8; }
/* IEEE half precision, little-endian. HDF5 < 1.14.4 has no predefined type: build it as
   h5py does. Returns a new type id the caller must H5Tclose. */
static inline hid_t graft_h5t_new_ieee_f16le(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}
static inline hid_t graft_h5t_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t graft_h5t_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
static inline hid_t graft_h5t_std_i32le(void)     { return H5T_STD_I32LE; }
static inline hid_t graft_h5t_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t graft_h5t_c_s1(void)          { return H5T_C_S1; }
static inline hid_t graft_h5p_default(void)       { return H5P_DEFAULT; }
static inline hid_t graft_h5p_file_access(void)   { return H5P_FILE_ACCESS; }
static inline hid_t graft_h5p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t graft_h5s_all(void)           { return H5S_ALL; }
static inline hid_t graft_h5t_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t graft_h5t_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t graft_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t graft_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t graft_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline unsigned graft_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t graft_h5p_link_access(void)   { return H5P_LINK_ACCESS; }
static inline hid_t graft_h5e_default(void)       { return H5E_DEFAULT; }

/* Link kind of `name` in `loc`: 0 hard, 1 soft, 2 external, 3 other user-defined, -1 error/absent. */
static inline int graft_h5_link_kind(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    switch (info.type) {
    case H5L_TYPE_HARD: return 0;
    case H5L_TYPE_SOFT: return 1;
    case H5L_TYPE_EXTERNAL: return 2;
    default: return 3;
    }
}

/* Frees the strings H5Aread/H5Dread allocated for a variable-length string buffer. */
static inline herr_t graft_h5_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/* 1 when the dataset's data lives outside the file (external storage or a virtual layout), 0 when not, -1 on error. */
static inline int graft_h5_dataset_is_external(hid_t dataset) {
    hid_t dcpl = H5Dget_create_plist(dataset);
    if (dcpl < 0) return -1;
    int external = H5Pget_external_count(dcpl);
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5Pclose(dcpl);
    if (external < 0 || layout < 0) return -1;
    return (external > 0 || layout == H5D_VIRTUAL) ? 1 : 0;
}

/* The file address of a dataset's contiguous raw data, 0 when it has none (not allocated, not
   contiguous) or on error. */
static inline unsigned long long graft_h5_dataset_offset(hid_t dataset) {
    haddr_t address = H5Dget_offset(dataset);
    return address == HADDR_UNDEF ? 0 : (unsigned long long)address;
}

/* 1 when the dataset's file element type is exactly `memory_type` (same class, size, byte
   order, layout: its stored bytes are the memory bytes), 0 when not, -1 on error. */
static inline int graft_h5_dataset_type_equals(hid_t dataset, hid_t memory_type) {
    hid_t type = H5Dget_type(dataset);
    if (type < 0) return -1;
    htri_t equal = H5Tequal(type, memory_type);
    H5Tclose(type);
    return equal < 0 ? -1 : (equal > 0 ? 1 : 0);
}

/* Storage layout of a dataset: 0 compact, 1 contiguous, 2 chunked, 3 virtual, -1 error. */
static inline int graft_h5_dataset_layout(hid_t dataset) {
    hid_t dcpl = H5Dget_create_plist(dataset);
    if (dcpl < 0) return -1;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5Pclose(dcpl);
    switch (layout) {
    case H5D_COMPACT: return 0;
    case H5D_CONTIGUOUS: return 1;
    case H5D_CHUNKED: return 2;
    case H5D_VIRTUAL: return 3;
    default: return -1;
    }
}
/* Opens a file read-only. When HDF5's file locking fails (read-only or network file
   systems), retries with locking disabled: a reader never needs the lock. */
static inline hid_t graft_h5_open_readonly(const char *path) {
    /* H5F_CLOSE_STRONG: closing the file also closes any object an error path left open,
       so a malformed file can never keep its file (and metadata cache) alive. */
    hid_t strong = H5Pcreate(H5P_FILE_ACCESS);
    if (strong >= 0) H5Pset_fclose_degree(strong, H5F_CLOSE_STRONG);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, strong >= 0 ? strong : H5P_DEFAULT);
    if (strong >= 0) H5Pclose(strong);
#if H5_VERSION_GE(1, 10, 7)
    if (fid < 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl >= 0) {
            H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
            H5Pset_file_locking(fapl, 0, 1);
            fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
            H5Pclose(fapl);
        }
    }
#endif
    return fid;
}

/* Silence HDF5's automatic error stack printing; Graft reports errors itself. */
/* The file address of an open object's header, for Graft's own structural checks of the
   header before libhdf5 decodes its messages. 0 (never a header's address) when unknown:
   on error, or on HDF5 >= 1.12, whose object info carries an opaque token instead. */
static inline unsigned long long graft_h5_object_header_address(hid_t object) {
#if H5_VERSION_GE(1, 12, 0)
    (void)object;
    return 0;
#else
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0 || info.addr == HADDR_UNDEF) return 0;
    return (unsigned long long)info.addr;
#endif
}

/* The file address of the object a hard link `name` in `loc` points to, read from the link
   itself (the object's header is not loaded). 0 when not a hard link, on error, or on
   HDF5 >= 1.12 (tokens instead of addresses). */
static inline unsigned long long graft_h5_link_target_address(hid_t loc, const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    (void)loc; (void)name;
    return 0;
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_HARD) return 0;
    return info.u.address == HADDR_UNDEF ? 0 : (unsigned long long)info.u.address;
#endif
}

static inline void graft_h5_silence_errors(void)  { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- Writing (Keras writer) ---- */
/* Creates (truncating) a file whose format needs HDF5 >= 1.8 readers, so attributes over
   64 KiB go to dense storage instead of failing. */
static inline hid_t graft_h5_create_truncate(const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return fid;
}
/* A link-creation property list that creates missing intermediate groups; caller closes it. */
static inline hid_t graft_h5p_new_intermediate_lcpl(void) {
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    if (p >= 0) H5Pset_create_intermediate_group(p, 1);
    return p;
}
static inline hid_t graft_h5t_std_i8le(void)      { return H5T_STD_I8LE; }
static inline hid_t graft_h5t_std_u8le(void)      { return H5T_STD_U8LE; }
static inline hid_t graft_h5t_std_i16le(void)     { return H5T_STD_I16LE; }
#endif
