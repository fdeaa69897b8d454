"""The standard schema. Import models from here (or from :mod:`core.api`)."""

from core.models.audit import AuditEntry
from core.models.feature import FeaturedComment
from core.models.help import HelpPage, HelpPageVersion
from core.models.campaign import Campaign, CampaignKind, CampaignSnapshot, CampaignStatus, campaign_policy
from core.models.figures import AggregatedValue, IndicatorFigure, PolicyFigure
from core.models.imports import ImportBatch
from core.models.mail import MailMessage, MailStatus
from core.models.token import ApiToken
from core.models.indicator import (
    Channel,
    Direction,
    Indicator,
    IndicatorCategory,
    IndicatorValue,
    IndicatorValueRevision,
    IndicatorWeight,
    Periodicity,
    TargetScope,
    ValueKind,
)
from core.models.preference import MailPreference, ScheduledJobRun
from core.models.policy import Organisation, Policy, PolicyContact, PolicyGroup, PolicyStatus
from core.models.qualitative import Comment, Weather, WeatherReport
from core.models.proposal import ProposalStatus, ValueProposal
from core.models.notification import CommentMention, Notification
from core.models.report import ReportRequest, ReportStatus
from core.models.roadmap import RoadmapEntry
from core.models.territory import Territory
from core.models.user import Grant, LoginFailure, PasswordReset, Role, User, grant_policy

__all__ = [
    "AggregatedValue", "ApiToken", "AuditEntry", "ImportBatch", "IndicatorFigure", "PolicyFigure", "Channel", "Comment", "Direction", "Grant", "Indicator", "IndicatorCategory",
    "IndicatorValue", "IndicatorValueRevision", "IndicatorWeight", "Organisation", "Periodicity",
    "Policy", "PolicyContact", "PolicyGroup", "PolicyStatus", "RoadmapEntry", "Role", "TargetScope", "Territory",
    "User", "ValueKind", "Weather", "WeatherReport", "grant_policy",
    "CommentMention", "Notification", "ProposalStatus", "ValueProposal",
    "ReportRequest", "ReportStatus",
    "Campaign", "CampaignKind", "CampaignSnapshot", "CampaignStatus", "campaign_policy",
    "LoginFailure", "MailMessage", "MailStatus", "PasswordReset",
    "MailPreference", "ScheduledJobRun",
    "FeaturedComment",
    "HelpPage", "HelpPageVersion",
]
