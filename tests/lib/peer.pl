#!/usr/bin/perl
# peer.pl -- the peers that nc and socat cannot be, for t-listen.sh and
# t-connect.sh. Perl because prove needs it anyway; core modules only.
#
#   peer.pl listen MODE     bind 127.0.0.1:0, print the port, accept one:
#     rst          read what came within 0.3 s, then close with SO_LINGER
#                  {1,0}: an RST
#     sleep        never read; wait to be killed (kill -9 = RST if we hold
#                  unread data, FIN if not)
#     reply        read to EOF (the client's half-close), then send
#                  "late reply" and close
#     fin-first    send "hello", shut down writing, read to EOF, print the
#                  number of bytes read on stdout, close
#     full         listen(fd, 0) and fill the accept queue with a
#                  connection of our own: a further SYN is dropped
#     abort-all    accept every connection and close it at once with
#                  SO_LINGER {1,0}, until killed: the handshake completes,
#                  then an RST
#   peer.pl connect PORT MODE
#     rst          send "abc", wait 0.3 s, close with SO_LINGER {1,0}
#     late         send "abc", read to EOF (the other side's FIN), then
#                  send "late!" (bytes that cross a FIN, like a TLS
#                  close_notify), shut down writing, read to EOF
#     sleep        send "hello", never read; wait to be killed
use strict;
use warnings;
use Socket;
use IO::Handle;

$SIG{ALRM} = sub { exit 3 };
alarm 60; # a peer never outlives a broken test for long
STDOUT->autoflush(1);

sub linger0 {
	my ($s) = @_;
	setsockopt($s, SOL_SOCKET, SO_LINGER, pack("ii", 1, 0))
	    or die "SO_LINGER: $!";
	close($s);
}

sub read_to_eof {
	my ($s) = @_;
	my ($buf, $n, $total) = ('', 0, 0);
	while (($n = sysread($s, $buf, 65536)) && $n > 0) {
		$total += $n;
	}
	return $total;
}

my $role = shift // die "usage";
if ($role eq 'listen') {
	my $mode = shift // die "usage";
	socket(my $l, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt($l, SOL_SOCKET, SO_REUSEADDR, 1);
	bind($l, sockaddr_in(0, inet_aton('127.0.0.1'))) or die "bind: $!";
	listen($l, $mode eq 'full' ? 0 : 16) or die "listen: $!";
	my ($port) = sockaddr_in(getsockname($l));
	if ($mode eq 'full') {
		socket(my $c, PF_INET, SOCK_STREAM, 0) or die;
		connect($c, sockaddr_in($port, inet_aton('127.0.0.1')))
		    or die "connect: $!";
		print "$port\n";
		sleep 60;
		exit 0;
	}
	print "$port\n";
	if ($mode eq 'abort-all') {
		while (accept(my $c, $l)) {
			linger0($c);
		}
		die "accept: $!";
	}
	accept(my $s, $l) or die "accept: $!";
	if ($mode eq 'rst') {
		select(undef, undef, undef, 0.3);
		my $buf;
		recv($s, $buf, 65536, MSG_DONTWAIT);
		linger0($s);
	} elsif ($mode eq 'sleep') {
		sleep 60;
	} elsif ($mode eq 'reply') {
		read_to_eof($s);
		syswrite($s, "late reply");
		close($s);
	} elsif ($mode eq 'fin-first') {
		syswrite($s, "hello");
		shutdown($s, 1);
		my $n = read_to_eof($s);
		print "read $n\n";
		close($s);
	} else {
		die "unknown mode $mode";
	}
} elsif ($role eq 'connect') {
	my $port = shift // die "usage";
	my $mode = shift // die "usage";
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	connect($s, sockaddr_in($port, inet_aton('127.0.0.1')))
	    or die "connect: $!";
	if ($mode eq 'rst') {
		syswrite($s, "abc");
		select(undef, undef, undef, 0.3);
		linger0($s);
	} elsif ($mode eq 'sleep') {
		syswrite($s, "hello");
		print "sent\n";
		sleep 60;
	} elsif ($mode eq 'late') {
		syswrite($s, "abc");
		read_to_eof($s);
		syswrite($s, "late!");
		shutdown($s, 1);
		read_to_eof($s);
		close($s);
	} else {
		die "unknown mode $mode";
	}
} else {
	die "usage: peer.pl listen MODE | connect PORT MODE";
}
