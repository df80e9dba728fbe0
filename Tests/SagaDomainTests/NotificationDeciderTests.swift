import EventSchema
import NotificationCore
import Testing

@Suite struct NotificationDeciderTests {
    let now: Int64 = 4_000

    @Test func aTerminalOrderEventSendsOneNotificationOfItsKind() throws {
        let d = NotificationDecider.decide(nil, on: Ev.confirmed(), now: now)
        let sent = try #require(d.sent)
        #expect(sent.kind == .orderConfirmed && sent.notificationId == "o1/order_confirmed" && sent.channel == .log)
        #expect(sent.message == "Your order o1 is confirmed: 4.50 EUR charged.")
        guard case let .send(_, events) = d, case let .notificationSent(e) = events.first, events.count == 1 else {
            Issue.record("\(d)"); return
        }
        #expect(e.orderID == "o1" && e.customerID == "c1" && e.kind == .orderConfirmed && e.channel == .log)
        #expect(e.notificationID == sent.notificationId && e.sentAtUnixMs == now)
    }

    @Test func theSameKindAgainIsNotSentTwice() throws {
        let sent = try #require(NotificationDecider.decide(nil, on: Ev.cancelled(), now: now).sent)
        #expect(sent.kind == .orderCancelled)
        #expect(sent.message == "Your order o1 was cancelled: it could not be completed in time.")
        #expect(NotificationDecider.decide(sent, on: Ev.cancelled(), now: now + 1)
            == .ignored(.alreadySent(.orderCancelled, notificationId: "o1/order_cancelled")))
    }

    @Test func kindIsDerivedFromTheEvent() {
        #expect(NotificationKind(for: Ev.confirmed()) == .orderConfirmed)
        #expect(NotificationKind(for: Ev.cancelled()) == .orderCancelled)
        for event in [Ev.placed(), Ev.reserved(), Ev.charged(), Ev.failed(), Ev.refunded(), Ev.notificationSent()] {
            #expect(NotificationKind(for: event) == nil)
            #expect(NotificationDecider.decide(nil, on: event, now: now) == .ignored(.notHandled(event.eventType)))
        }
    }

    @Test func aRecordOfAnotherOrderOrKindIsRejected() throws {
        let confirmed = try #require(NotificationDecider.decide(nil, on: Ev.confirmed(), now: now).sent)
        #expect(NotificationDecider.decide(confirmed, on: Ev.cancelled(), now: now)
            == .rejected(.recordMismatch(record: "o1/ORDER_CONFIRMED", event: "o1/ORDER_CANCELLED")))
        #expect(NotificationDecider.decide(confirmed, on: Ev.confirmed("o2"), now: now)
            == .rejected(.recordMismatch(record: "o1/ORDER_CONFIRMED", event: "o2/ORDER_CONFIRMED")))
    }
}

@Suite struct NotificationDeliveryDecisionTests {
    @Test func aDeliveryOfAPendingNotificationSendsItsEventWithTheSendTime() throws {
        let recorded = try #require(NotificationDecider.decide(nil, on: Ev.confirmed(), now: 4_000).sent)
        guard case .transition(let delivered) = NotificationDecider.delivered(recorded, alreadySent: false, channel: .webhook, at: 9_000) else {
            Issue.record("not delivered"); return
        }
        #expect(delivered.record.sentAtUnixMs == 9_000 && delivered.record.channel == .webhook)
        guard case let .notificationSent(e) = delivered.events.first, delivered.events.count == 1 else {
            Issue.record("\(delivered.events)"); return
        }
        #expect(e.sentAtUnixMs == 9_000 && e.channel == .webhook && e.notificationID == recorded.notificationId)
    }

    @Test func aDeliveryRecordedAlreadyEmitsNothing() throws {
        let recorded = try #require(NotificationDecider.decide(nil, on: Ev.cancelled(), now: 4_000).sent)
        guard case .ignored(let reason) = NotificationDecider.delivered(recorded, alreadySent: true, channel: .log, at: 9_000) else {
            Issue.record("delivered twice"); return
        }
        #expect(reason == "ORDER_CANCELLED notification already sent (o1/order_cancelled)")
    }

    @Test func recordingEmitsNothingUntilTheDelivery() throws {
        guard case .transition(let recorded) = NotificationDecider.decide(nil, on: Ev.confirmed(), now: 4_000).recorded(deliveredNow: false) else {
            Issue.record("not recorded"); return
        }
        #expect(recorded.events.isEmpty)
    }

    @Test func recordingWhatIsDeliveredNowEmitsNotificationSentAtTheDecisionTime() throws {
        guard case .transition(let recorded) = NotificationDecider.decide(nil, on: Ev.confirmed(), now: 4_000).recorded(deliveredNow: true),
              case .notificationSent(let e) = try #require(recorded.events.first) else {
            Issue.record("not recorded as sent"); return
        }
        #expect(recorded.events.count == 1)
        #expect(e.sentAtUnixMs == 4_000 && e.notificationID == recorded.record.notificationId && e.orderID == "o1")
    }

    @Test func theHandledEventsAreThoseWithANotificationKind() {
        for event in Ev.all() {
            #expect(NotificationDecider.handledEvents.contains(event.eventType) == (NotificationKind(for: event) != nil), "\(event.eventType)")
        }
    }
}
