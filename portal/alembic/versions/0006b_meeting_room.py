"""meeting room: participants, consents, recordings, minutes

Revision ID: 0006b_meeting_room
Revises: 0006_meetings
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006b_meeting_room'
down_revision: Union[str, Sequence[str], None] = '0006_meetings'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('meeting_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=20), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_invites_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_meeting_invites_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_invites_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_invites')),
    sa.UniqueConstraint('booking_id', 'user_id', name=op.f('uq_meeting_invites_booking_id')),
    )
    with op.batch_alter_table('meeting_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_invites_booking_id'), ['booking_id'], unique=False)

    op.create_table('meeting_admissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('admitted_by_id', sa.Integer(), nullable=True),
    sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admitted_by_id'], ['users.id'], name=op.f('fk_meeting_admissions_admitted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_admissions_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_admissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_admissions')),
    sa.UniqueConstraint('booking_id', 'user_id', name=op.f('uq_meeting_admissions_booking_id')),
    )
    with op.batch_alter_table('meeting_admissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_admissions_booking_id'), ['booking_id'], unique=False)

    op.create_table('meeting_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_attendance_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_attendance_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_attendance')),
    )
    with op.batch_alter_table('meeting_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_attendance_booking_id'), ['booking_id'], unique=False)

    op.create_table('meeting_recording_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_recording_consents_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_recording_consents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_recording_consents')),
    )
    with op.batch_alter_table('meeting_recording_consents', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_recording_consents_booking_user', ['booking_id', 'user_id'], unique=False)

    op.create_table('meeting_recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_recordings_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_meeting_recordings_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_recordings')),
    )
    with op.batch_alter_table('meeting_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_recordings_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_recordings_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_recordings_started_at'), ['started_at'], unique=False)
        # one running recording per meeting (see portal.meetings.recording)
        batch_op.create_index(
            'ux_meeting_recordings_running', ['booking_id'], unique=True,
            sqlite_where=sa.text("state = 'recording'"),
            postgresql_where=sa.text("state = 'recording'"),
        )

    op.create_table('meeting_recording_files',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('participant', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('video_frames', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['meeting_recordings.id'], name=op.f('fk_meeting_recording_files_recording_id_meeting_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_recording_files_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_recording_files')),
    )
    with op.batch_alter_table('meeting_recording_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_recording_files_recording_id'), ['recording_id'], unique=False)

    op.create_table('meeting_recording_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['meeting_recordings.id'], name=op.f('fk_meeting_recording_access_recording_id_meeting_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_recording_access_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_recording_access')),
    )
    with op.batch_alter_table('meeting_recording_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_recording_access_recording_id'), ['recording_id'], unique=False)

    op.create_table('meeting_minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('case_number', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_meeting_minutes_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['meeting_bookings.id'], name=op.f('fk_meeting_minutes_booking_id_meeting_bookings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_minutes')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_meeting_minutes_booking_id')),
    )


def downgrade() -> None:
    op.drop_table('meeting_minutes')
    op.drop_table('meeting_recording_access')
    op.drop_table('meeting_recording_files')
    op.drop_table('meeting_recordings')
    op.drop_table('meeting_recording_consents')
    op.drop_table('meeting_attendance')
    op.drop_table('meeting_admissions')
    op.drop_table('meeting_invites')
