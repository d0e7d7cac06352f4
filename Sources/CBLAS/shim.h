// OpenBLAS's CBLAS interface plus its thread and configuration queries
// (openblas_set_num_threads, openblas_get_config, openblas_get_corename), all declared in cblas.h.
#include <cblas.h>
