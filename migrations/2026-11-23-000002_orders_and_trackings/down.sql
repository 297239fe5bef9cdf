DROP TABLE order_trackings;
DROP TABLE trackings;
DROP TABLE orders;
