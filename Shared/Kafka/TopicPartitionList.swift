import CRdKafka

func partitionsOf(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
    (0..<Int(list.pointee.cnt)).map { i in
        let element = list.pointee.elems[i]
        return TopicPartition(topic: String(cString: element.topic), partition: element.partition)
    }
}

/// A new C partition list (caller destroys it), with offsets where given.
func makeList(_ partitions: some Sequence<TopicPartition>, offsets: [TopicPartition: Int64] = [:]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(8)!
    for partition in partitions {
        let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
        if let offset = offsets[partition] { element.pointee.offset = offset }
    }
    return list
}
