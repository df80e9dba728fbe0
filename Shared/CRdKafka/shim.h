// librdkafka's C API plus the mock cluster used by the embedded dev cluster.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// The countdown of a producer call's outstanding delivery reports: one atomic step per report
// instead of a lock (Synchronization.Atomic needs macOS 15, above the package's floor).
static inline long kafka_countdown(long *remaining) { return __atomic_sub_fetch(remaining, 1, __ATOMIC_ACQ_REL); }
