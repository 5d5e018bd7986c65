"""The webhook signature, checked against the test vector in the CallRail docs (Webhooks > Security)."""

import base64
import hashlib
import hmac

from apps.sandbox.webhooks import encode, sign

DOCS_SIGNING_KEY = "072e77e426f92738a72fe23c4d1953b4"
DOCS_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
# the JSON request body of the docs' example, byte for byte
DOCS_BODY = (
    '{"answered":false,"business_phone_number":"","call_type":"voicemail","company_id":155920786,"company'
    '_name":"Boost Marketing","company_time_zone":"America/Los_Angeles","created_at":"2018-02-19T13:41:00'
    '.252-05:00","customer_city":"Rochester","customer_country":"US","customer_name":"Kaylah Mills","cust'
    'omer_phone_number":"+12148654559","customer_state":"PA","device_type":"","direction":"inbound","dura'
    'tion":"13","first_call":false,"formatted_call_type":"Voicemail","formatted_customer_location":"Roche'
    'ster, PA","formatted_business_phone_number":"","formatted_customer_name":"Kaylah Mills","prior_calls'
    '":16,"formatted_customer_name_or_phone_number":"Kaylah Mills","formatted_customer_phone_number":"214'
    '-865-4559","formatted_duration":"13s","formatted_tracking_phone_number":"404-555-8514","formatted_tr'
    'acking_source":"Google Paid","formatted_value":"--","good_lead_call_id":715587840,"good_lead_call_ti'
    'me":"2016-06-17T10:23:33.363-04:00","id":766970532,"lead_status":"previously_marked_good_lead","note'
    '":"","recording":"https://app.callrail.com/calls/766970532/recording/redirect?access_key=aaaaccccddd'
    'deeee","recording_duration":8,"source_name":"Google AdWords","start_time":"2018-02-19T13:41:00.236-0'
    '5:00","tags":[],"total_calls":17,"tracking_phone_number":"+14045558514","transcription":"","value":"'
    '","voicemail":true,"tracker_id":354024023,"keywords":"","medium":"","referring_url":"","landing_page'
    '_url":"","last_requested_url":"","referrer_domain":"","conversational_transcript":"","utm_source":"g'
    'oogle","utm_medium":"cpc","utm_term":"","utm_content":"","utm_campaign":"Google AdWords","utma":"","'
    'utmb":"","utmc":"","utmv":"","utmz":"","ga":"","gclid":"","integration_data":[{"integration":"Webhoo'
    'ks","data":null}],"keywords_spotted":"","recording_player":"https://app.callrail.com/calls/766970532'
    '/recording?access_key=aaaabbbbccccdddd","speaker_percent":"","call_highlights":[],"callercity":"Roch'
    'ester","callercountry":"US","callername":"Kaylah Mills","callernum":"+12148654559","callerstate":"PA'
    '","callsource":"google_paid","campaign":"","custom":"","datetime":"2018-02-19 18:41:00","destination'
    'num":"","ip":"","kissmetrics_id":"","landingpage":"","referrer":"","referrermedium":"","score":1,"ta'
    'g":"","trackingnum":"+14045558514","timestamp":"2018-02-19T13:41:00.236-05:00"}'
)


def test_docs_test_vector():
    assert len(DOCS_BODY) == 2279
    assert sign(DOCS_SIGNING_KEY, DOCS_BODY.encode("utf-8")) == DOCS_SIGNATURE


def test_signature_is_base64_hmac_sha1_of_the_raw_body():
    body = encode({"id": "CAL1", "note": "caf\u00e9"})
    expected = base64.b64encode(hmac.new(b"k3y", body, hashlib.sha1).digest()).decode()
    assert sign("k3y", body) == expected
    # any change to the body changes the signature
    assert sign("k3y", body + b" ") != expected
    assert sign("other", body) != expected


def test_encoding_is_compact_json():
    assert encode({"a": 1, "b": [1, 2]}) == b'{"a":1,"b":[1,2]}'
