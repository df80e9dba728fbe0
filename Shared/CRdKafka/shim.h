// librdkafka's C API plus the mock cluster used by the embedded dev cluster.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#ifdef __linux__
#include <pthread.h>
// Names the calling thread for top -H, perf and /proc; glibc declares pthread_setname_np only
// under _GNU_SOURCE, which Swift's Glibc module does not define.
int pthread_setname_np(pthread_t thread, const char *name);
static inline void kafka_name_current_thread(const char *name) { pthread_setname_np(pthread_self(), name); }
#endif

// The countdown of a producer call's outstanding delivery reports: one atomic step per report
// instead of a lock (Synchronization.Atomic needs macOS 15, above the package's floor).
static inline long kafka_countdown(long *remaining) { return __atomic_sub_fetch(remaining, 1, __ATOMIC_ACQ_REL); }
