"""SNS: a Subscribe that AWS refuses leaves no subscription (MOTO_GAPS: "Subscribe with an invalid
FilterPolicy raises but keeps the subscription").

moto creates the subscription first and applies its attributes afterwards, so when the filter
policy is refused the caller gets InvalidParameter and an *unfiltered* subscription that
receives everything. AWS answers the whole Subscribe call with the error and makes nothing
(https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html). Subscribe as a whole lives in
moto's response layer, so the mend wraps it there: a refused new subscription is taken back.
"""
from __future__ import annotations


def apply() -> None:
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.responses import SNSResponse

    subscribe = SNSResponse.subscribe

    def subscribe_all_or_nothing(self):
        wanted = (self._get_param("TopicArn"), self._get_param("Endpoint"), self._get_param("Protocol"))
        existed = self.backend._find_subscription(*wanted) is not None
        try:
            return subscribe(self)
        except SNSInvalidParameter:
            made = None if existed else self.backend._find_subscription(*wanted)
            if made is not None:
                self.backend.unsubscribe(made.arn)
            raise

    SNSResponse.subscribe = subscribe_all_or_nothing
