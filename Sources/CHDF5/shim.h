#ifndef GRAFT_CHDF5_SHIM_H
#define GRAFT_CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5's predefined type ids are macros that call H5open(); Swift cannot import them. */
static inline hid_t graft_h5t_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t graft_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t graft_h5t_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t graft_h5t_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t graft_h5t_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t graft_h5t_ieee_f16le(void)    { return H5T_IEEE_F16LE; }
static inline hid_t graft_h5t_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t graft_h5t_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
static inline hid_t graft_h5t_std_i32le(void)     { return H5T_STD_I32LE; }
static inline hid_t graft_h5t_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t graft_h5t_c_s1(void)          { return H5T_C_S1; }
static inline hid_t graft_h5p_default(void)       { return H5P_DEFAULT; }
static inline hid_t graft_h5p_file_access(void)   { return H5P_FILE_ACCESS; }
static inline hid_t graft_h5p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t graft_h5s_all(void)           { return H5S_ALL; }
/* Silence HDF5's automatic error stack printing; Graft reports errors itself. */
static inline void graft_h5_silence_errors(void)  { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
#endif
