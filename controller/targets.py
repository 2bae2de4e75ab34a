"""An in-memory index of zones, boxes and groups, loaded once per compile: resolves targets to boxes
and finds each box's zone policy. Targets are resolved when compiled, so a box added to a village
later gets the village's schedules."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from controller.models import Device, DeviceGroupMember, Zone
from playlists.policy import ZonePolicy


@dataclass
class ZoneIndex:
    zones: dict[int, Zone] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    devices_by_zone: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    device_zone: dict[str, int] = field(default_factory=dict)
    group_members: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    _below: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> ZoneIndex:
        index = cls()
        for zone in session.exec(select(Zone)).all():
            assert zone.id is not None
            index.zones[zone.id] = zone
            if zone.parent_id is not None:
                index.children[zone.parent_id].append(zone.id)
        for device_id, zone_id in session.exec(
            select(Device.id, Device.zone_id).where(
                col(Device.is_active).is_(True), col(Device.public_key).is_not(None)
            )
        ).all():  # a box gets timelines once enrolled, and none once revoked
            index.devices_by_zone[zone_id].append(device_id)
            index.device_zone[device_id] = zone_id
        for member in session.exec(select(DeviceGroupMember)).all():
            if member.device_id in index.device_zone:
                index.group_members[member.group_id].append(member.device_id)
        return index

    @property
    def device_ids(self) -> list[str]:
        return sorted(self.device_zone)

    def devices_below(self, zone_id: int) -> tuple[str, ...]:
        """Active boxes in a zone and every zone under it."""
        if zone_id not in self._below:
            found = list(self.devices_by_zone.get(zone_id, ()))
            for child in self.children.get(zone_id, ()):
                found.extend(self.devices_below(child))
            self._below[zone_id] = tuple(sorted(found))
        return self._below[zone_id]

    def resolve(
        self, kind: str, *, zone_id: int | None, device_id: str | None, group_id: int | None
    ) -> tuple[str, ...]:
        if kind == "zone" and zone_id is not None:
            return self.devices_below(zone_id)
        if kind == "device" and device_id is not None:
            return (device_id,) if device_id in self.device_zone else ()
        if kind == "group" and group_id is not None:
            return tuple(sorted(self.group_members.get(group_id, ())))
        return ()

    def chain(self, zone_id: int) -> list[Zone]:
        """The zone and its ancestors, nearest first."""
        found = []
        current = self.zones.get(zone_id)
        while current is not None:
            found.append(current)
            current = self.zones.get(current.parent_id) if current.parent_id is not None else None
        return found

    def policy_for(self, device_id: str) -> ZonePolicy | None:
        """The nearest zone policy above a box (village, then commune, then province)."""
        zone_id = self.device_zone.get(device_id)
        if zone_id is None:
            return None
        for zone in self.chain(zone_id):
            if zone.policy_json:
                return ZonePolicy.model_validate_json(zone.policy_json)
        return None

    def zone_codes(self, device_id: str) -> tuple[str, ...]:
        """The codes of a box's zones, nearest first: the zone-command topics it listens to."""
        zone_id = self.device_zone.get(device_id)
        return tuple(z.code for z in self.chain(zone_id)) if zone_id is not None else ()
