-- The categories the category model assigns. 'other' is the fallback for texts that are not a
-- complaint or that the model could not place in one of the four complaint categories.
select *
from (
    values
        ('poor_network', 'Poor network', 'No signal, dropped calls, slow or no mobile data, outages.', true),
        ('incorrect_billing', 'Incorrect billing', 'Wrong charges, unexpected fees, refunds, contract or tariff disputes.', true),
        ('bad_customer_service', 'Bad customer service', 'Long waits, unhelpful or rude staff, promises not kept, no reply.', true),
        ('device_equipment', 'Device or equipment', 'Faulty phones, SIM cards, routers or other equipment; repairs and deliveries.', true),
        ('other', 'Other', 'Not a complaint, or not placed in one of the four complaint categories.', false)
) as categories (category, category_name, description, is_complaint)
