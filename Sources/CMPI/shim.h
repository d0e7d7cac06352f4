// Open MPI's C API (Debian's libopenmpi-dev). MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM,
// MPI_IN_PLACE ...) are macros over global objects, which Swift does not import: these functions
// hand them over.
#include <mpi.h>

static inline MPI_Comm vip_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype vip_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype vip_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype vip_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype vip_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Op vip_mpi_sum(void) { return MPI_SUM; }
static inline void *vip_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int vip_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int vip_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
