// librdkafka's C API plus the mock cluster used by the embedded dev cluster.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
