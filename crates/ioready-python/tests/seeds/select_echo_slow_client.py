# The "slow" client of PyMOTW's select() echo server with a timeout
# (shared/seeds/pymotw-select.txt), ported to Python 3 and otherwise
# unchanged, except: the port comes from argv.
import socket
import sys
import time

# Create a TCP/IP socket
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Connect the socket to the port where the server is listening
server_address = ('localhost', int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
print('connecting to %s port %s' % server_address, file=sys.stderr)
sock.connect(server_address)

time.sleep(1)

messages = [ b'Part one of the message.',
             b'Part two of the message.',
             ]
amount_expected = len(b''.join(messages))

try:

    # Send data
    for message in messages:
        print('sending "%s"' % message.decode(), file=sys.stderr)
        sock.sendall(message)
        time.sleep(1.5)

    # Look for the response
    amount_received = 0

    while amount_received < amount_expected:
        data = sock.recv(16)
        amount_received += len(data)
        print('received "%s"' % data.decode(), file=sys.stderr)

finally:
    print('closing socket', file=sys.stderr)
    sock.close()
