-- Fulfillment: when the ORDERING step last asked WHMCS for AddOrder. Written (and committed)
-- before each AddOrder call, so a later attempt of the step knows an earlier one may have placed
-- the order and looks it up by its note first; a first attempt (NULL) goes straight to AddOrder.
ALTER TABLE fulfillments ADD COLUMN add_order_at timestamptz;
