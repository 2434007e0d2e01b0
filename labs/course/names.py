"""The course text's names, in one place: producers, consumers and provisioning share them."""

REGION = "ap-northeast-1"
ORDERS_BUS = "orders-bus"
ORDER_SOURCE = "com.myapp.orders"
ORDER_EVENT_TYPES = ("OrderCreated", "OrderShipped", "OrderCancelled")
ORDER_EVENTS_TOPIC = "order-events"
ALERTS_TOPIC = "alerts"
FAILED_MESSAGES_TABLE = "failed-messages"
