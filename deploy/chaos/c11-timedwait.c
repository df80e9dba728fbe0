/*
 * Preloaded beside libfaketime for the clock faults (deploy/chaos/faults.sh).
 *
 * librdkafka waits on C11 condition variables with deadlines on the wall clock
 * (timespec_get). libfaketime fakes timespec_get and converts the deadline of
 * pthread_cond_timedwait back to the real clock, but glibc's cnd_timedwait calls its
 * pthread code internally, past libfaketime. With the clock set back every timed wait
 * then ends at once (rd_kafka_new fails: "background thread(s) did not initialize");
 * set ahead, every one lasts the offset longer (a stop takes minutes). A real skewed
 * clock moves the deadline and the wait together; routing cnd_timedwait through
 * pthread_cond_timedwait, which glibc implements on the same object, makes the fake
 * do the same.
 */
#include <errno.h>
#include <pthread.h>
#include <threads.h>

int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mutex, const struct timespec *restrict deadline) {
    int status = pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mutex, deadline);
    return status == 0 ? thrd_success : status == ETIMEDOUT ? thrd_timedout : thrd_error;
}
