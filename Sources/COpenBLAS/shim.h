#ifndef GRAFT_COPENBLAS_SHIM_H
#define GRAFT_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
