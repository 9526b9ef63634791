#ifndef GRAFT_CZIP_SHIM_H
#define GRAFT_CZIP_SHIM_H
#include <zip.h>
#include <zlib.h>  /* crc32, for stored entries read past libzip */
#endif
