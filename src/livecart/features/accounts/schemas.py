from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from livecart.kit.categories import Category
from livecart.kit.schemas import In, Out

DisplayName = Field(min_length=1, max_length=40)
Password = Field(min_length=8, max_length=200)


class SignUpIn(In):
    email: EmailStr
    password: str = Password
    display_name: str = DisplayName
    role: Literal["viewer", "host", "merchant", "agency"] = "viewer"
    merchant_name: str | None = Field(default=None, min_length=1, max_length=80)


class LogInIn(In):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class UserOut(Out):
    id: int
    email: str
    display_name: str
    role: str
    merchant_id: int | None


class SessionOut(Out):
    token: str
    expires_at: datetime
    user: UserOut
    csrf_token: str | None = None


class HostOut(Out):
    id: int
    display_name: str
    bio: str
    avatar_url: str | None
    categories: list[str]
    followers_count: int
    merchant_id: int | None
    following: bool = False


class HostProfileIn(In):
    display_name: str | None = Field(default=None, min_length=1, max_length=40)
    bio: str | None = Field(default=None, max_length=2000)
    categories: list[Category] | None = Field(default=None, max_length=5)


class MerchantOut(Out):
    id: int
    name: str
    created_at: datetime


class LinkHostIn(In):
    email: EmailStr


class FollowOut(Out):
    host_id: int
    following: bool
    followers_count: int
