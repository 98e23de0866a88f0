/// What a subscription tells the connection that owns it.
protocol SubscriptionOwner: AnyObject {
    /// The subscription's stream ended (its last message is out); its id is free again.
    func subscriptionEnded(_ subscription: Subscription)
    /// A `close`-policy queue overflowed: the connection must go, with 4008.
    func slowConsumerDetected(_ subscription: Subscription)
}
